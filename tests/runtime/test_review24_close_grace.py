"""The close counts each top-level actor's running handler's grace from its start."""

from __future__ import annotations

import logging

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorEvent, EventKind, handler


@attrs.frozen
class Hold:
    pass


@attrs.frozen
class Ping:
    pass


class Holder(Actor):
    """Holds its handler for ever on ``Hold``; notes its ``on_stop`` (before any checkpoint)."""

    def __init__(self, journal: list[str], label: str) -> None:
        self.journal = journal
        self.label = label

    @handler
    async def hold(self, message: Hold) -> None:
        await trio.sleep_forever()

    @handler
    async def ping(self, message: Ping) -> str:
        return self.label

    async def on_stop(self) -> None:
        self.journal.append(f"on_stop {self.label}")


@pytest.mark.parametrize("count", [2, 3])
async def test_closing_with_held_top_level_actors_takes_one_grace_in_reverse_order(
    count: int, caplog: pytest.LogCaptureFixture
) -> None:
    """N held top-level actors: the close takes one 5 s grace and stops all, last started first."""
    caplog.set_level(logging.WARNING)
    journal: list[str] = []
    stopped: list[str] = []
    closing = 0.0
    async with trouper.open_runtime() as rt:

        def note(event: ActorEvent) -> None:
            stopped.append(event.address.path)

        rt.events.listen(note, kinds=[EventKind.STOPPED])
        labels = [f"a{i}" for i in range(count)]
        for label in labels:
            ref = await rt.spawn(Holder, journal, label, name=label)
            await ref.tell(Hold())
        await trio.testing.wait_all_tasks_blocked()
        closing = trio.current_time()
    assert trio.current_time() - closing == 5.0
    assert "did not stop" not in caplog.text
    assert stopped == [f"/{label}" for label in reversed(labels)]
    # The last started is cut off at its deadline with its on_stop (as a lone held
    # actor's stop is); each one after it has its handler cut at the close's grace,
    # and its on_stop runs within the deadline of its own stop.
    assert journal == [f"on_stop {label}" for label in reversed(labels[:-1])]


async def test_a_later_actor_still_serves_while_the_one_started_after_it_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Reverse order still holds: an actor serves asks until its own turn to stop comes."""
    caplog.set_level(logging.WARNING)
    journal: list[str] = []
    answers: list[object] = []

    class Dependent(Actor):
        def __init__(self, first: trouper.ActorRef[object]) -> None:
            self.first = first

        async def on_stop(self) -> None:
            answers.append(await self.first.ask(Ping()))

    async with trouper.open_runtime() as rt:
        first = await rt.spawn(Holder, journal, "first")
        await rt.spawn(Dependent, first)
    assert answers == ["first"]
    assert journal == ["on_stop first"]


async def test_an_actor_behind_a_held_one_still_has_its_own_grace_for_on_stop() -> None:
    """Behind a held actor (cut at 5 s) an idle one's 2 s on_stop runs whole: 7 s in all."""
    journal: list[str] = []

    class SlowToStop(Actor):
        async def on_stop(self) -> None:
            await trio.sleep(2)
            journal.append("slow stopped")

    closing = 0.0
    async with trouper.open_runtime() as rt:
        await rt.spawn(SlowToStop)
        held = await rt.spawn(Holder, journal, "held")
        await held.tell(Hold())
        await trio.testing.wait_all_tasks_blocked()
        closing = trio.current_time()
    assert trio.current_time() - closing == 7.0
    assert journal == ["slow stopped"]


@attrs.frozen
class Crash:
    pass


class RestartsSlowly(Actor):
    """Crashes on ``Crash``; every instance after the first never completes ``on_start``."""

    def __init__(self, starts: list[int]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(1)
        if len(self.starts) > 1:
            await trio.sleep_forever()

    @handler
    async def crash(self, message: Crash) -> None:
        raise ValueError("crash")


async def test_a_restart_held_in_on_start_has_its_grace_from_the_close_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An on_start held in a restart, behind a held actor: cut at the close's grace, 5 s."""
    caplog.set_level(logging.CRITICAL)  # (the crash's own log is not what this test is about)
    stopped: list[str] = []
    closing = 0.0
    async with trouper.open_runtime() as rt:
        rt.events.listen(
            lambda event: stopped.append(event.address.path), kinds=[EventKind.STOPPED]
        )
        restarting = await rt.spawn(RestartsSlowly, [], name="restarting")
        held = await rt.spawn(Holder, [], "held", name="held")
        await held.tell(Hold())
        await restarting.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()
        closing = trio.current_time()
    assert trio.current_time() - closing == 5.0
    assert stopped == ["/held", "/restarting"]
