"""Review 26: a failed handler of a notice (``Terminated``) is rolled back like a delivery's.

A durable actor whose supervisor resumes it after a failure kept what a
failed ``Terminated`` handler had changed in ``self.state``, and the next ack
saved it: half of a failed handler's work was made durable. A failed
delivery's changes were rolled back; a notice's now are too, to the state as
it was when the notice's handler began (what ``on_start`` or an earlier notice
changed and no ack saved yet stays, to go with the next ack).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable
from trouper.supervision import Directive, OneForOne


@attrs.define
class Seen:
    """Durable state: what the handlers recorded."""

    notes: list[str] = attrs.Factory(list)


class Quiet(trouper.Actor):
    """An in-memory actor to watch."""


class Watching(trouper.Actor):
    """Notes its start and each charge; its ``Terminated`` handler notes, then fails."""

    state: Seen

    def __init__(self, others: list[trouper.ActorRef[object]]) -> None:
        self.others = others

    async def on_start(self) -> None:
        self.state.notes.append("started")
        for other in self.others:
            self.ctx.watch(other)

    @trouper.handler
    async def terminated(self, message: trouper.Terminated) -> None:
        name = message.ref.address.path
        self.state.notes.append(f"gone {name}")
        if name == "/bad":
            raise ValueError("the notice's handler failed")

    @trouper.handler
    async def charge(self, message: Charge) -> Seen:
        self.state.notes.append(message.order_id)
        return attrs.evolve(self.state, notes=list(self.state.notes))


class Resuming(trouper.Actor):
    """Supervises a ``Watching`` durable child and resumes it after a ``ValueError``."""

    supervisor_strategy = OneForOne(directives={ValueError: Directive.RESUME})

    def __init__(self, others: list[trouper.ActorRef[object]]) -> None:
        self.others = others

    async def on_start(self) -> None:
        self.child = await self.ctx.spawn(Watching, self.others, name="w", mailbox=Durable())

    @trouper.handler
    async def child_ref(self, message: str) -> trouper.ActorRef[object]:
        return self.child


async def test_a_failed_notice_handler_keeps_nothing_of_what_it_changed(tmp_path: Path) -> None:
    """The failed ``Terminated`` handler's change is undone; the others' are saved with the ack."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        good = await rt.spawn(Quiet, name="good")
        bad = await rt.spawn(Quiet, name="bad")
        parent = await rt.spawn(Resuming, [good, bad], name="p")
        child = await parent.ask("child")
        assert isinstance(child, trouper.ActorRef)
        await rt.stop(good)
        await trio.testing.wait_all_tasks_blocked()
        await rt.stop(bad)  # its Terminated handler fails; the child is resumed
        await trio.testing.wait_all_tasks_blocked()
        expected = Seen(["started", "gone /good", "a"])
        assert await child.ask(Charge("a", 1)) == expected
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        parent = await rt.spawn(Resuming, [], name="p")
        child = await parent.ask("child")
        assert isinstance(child, trouper.ActorRef)
        assert await child.ask(Charge("b", 1)) == Seen([*expected.notes, "started", "b"])
