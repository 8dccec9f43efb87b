"""A group restart starts no member after one whose start failed until that one has started."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import (
    Actor,
    ActorState,
    ChildSpec,
    Directive,
    OneForAll,
    RestForOne,
    Strategy,
    Supervisor,
)
from trouper.runtime import WhichChildren


@attrs.frozen
class Crash:
    pass


class Member(Actor):
    """Journals each start; its start number ``fail_on`` (counted in ``starts``) raises."""

    def __init__(self, journal: list[str], name: str, fail_on: int, starts: list[int]) -> None:
        self.journal = journal
        self.name = name
        self.fail_on = fail_on
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(1)
        if len(self.starts) == self.fail_on:
            self.journal.append(f"{self.name} failed to start")
            raise RuntimeError(f"{self.name} cannot start")
        self.journal.append(self.name)

    @trouper.handler
    async def crash(self, message: Crash) -> None:
        raise RuntimeError("crash")


@pytest.mark.parametrize("strategy", [RestForOne(), OneForAll()])
async def test_members_after_a_failed_start_wait_for_it(strategy: Strategy) -> None:
    """a fails; a, b, c restart; b's start fails: c starts only once b has started again."""
    journal: list[str] = []
    specs = [
        ChildSpec(name, Member, (journal, name, 2 if name == "b" else 0, []))
        for name in ("a", "b", "c")
    ]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs, strategy=strategy)
        a = rt.find(f"{sup.address.path}/a")
        assert a is not None
        await a.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        restarted = ["b", "c"] if isinstance(strategy, RestForOne) else ["a", "b", "c"]
        assert journal == ["a", "b", "c", "a", "b failed to start", *restarted]


class Fragile(Member):
    """A ``Member`` whose failed start raises ``LookupError`` (a directive stops it)."""

    async def on_start(self) -> None:
        try:
            await super().on_start()
        except RuntimeError as error:
            raise LookupError(str(error)) from None


async def test_members_held_after_a_failed_start_start_once_it_is_stopped_instead() -> None:
    """RestForOne, LookupError stops: b's failed start is stopped for good, and c starts then."""
    journal: list[str] = []
    specs = [
        ChildSpec("a", Member, (journal, "a", 0, [])),
        ChildSpec("b", Fragile, (journal, "b", 2, [])),
        ChildSpec("c", Member, (journal, "c", 0, [])),
    ]
    strategy = RestForOne(directives={LookupError: Directive.STOP})
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs, strategy=strategy)
        a = rt.find(f"{sup.address.path}/a")
        assert a is not None
        await a.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        assert journal == ["a", "b", "c", "a", "b failed to start", "c"]
        children = await sup.ask(WhichChildren())
        assert [(c.id, c.state) for c in children] == [
            ("a", ActorState.RUNNING),
            ("b", ActorState.STOPPED),
            ("c", ActorState.RUNNING),
        ]
