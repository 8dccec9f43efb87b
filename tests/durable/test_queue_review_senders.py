"""Senders waiting for room in a full durable mailbox: cancelled, several, all let in in turn."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable


class Held(trouper.Actor):
    """Handles each message once ``gate`` is set."""

    def __init__(self, gate: trio.Event, got: list[str]) -> None:
        self.gate = gate
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.gate.wait()
        self.got.append(message.order_id)


async def test_a_cancelled_waiting_tell_stores_nothing_and_keeps_no_room(tmp_path: Path) -> None:
    """Cancelled while it waits for room, a tell leaves the mailbox's room as it was."""
    gate, got = trio.Event(), list[str]()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Held, gate, got, name="held", mailbox=Durable(capacity=1))
        await ref.tell(Charge("a", 1))
        with trio.move_on_after(1) as waited:
            await ref.tell(Charge("cancelled", 2))
        assert waited.cancelled_caught
        gate.set()
        await trio.sleep(1)
        ref.tell_nowait(Charge("b", 3))  # room for one: MailboxFull if the cancelled kept it
        await trio.sleep(1)
        (box,) = await rt.store.mailbox_statistics()
    assert (got, box.depth) == (["a", "b"], 0)


async def test_senders_waiting_for_room_are_let_in_in_the_order_they_came(tmp_path: Path) -> None:
    """Ten senders wait on a full mailbox of capacity 2: each gets in once, in arrival order."""
    gate, got = trio.Event(), list[str]()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Held, gate, got, name="held", mailbox=Durable(capacity=2))
        await ref.tell(Charge("first", 0))
        await ref.tell(Charge("second", 0))
        async with trio.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(ref.tell, Charge(f"s{n}", n))
                await trio.testing.wait_all_tasks_blocked()
            gate.set()
        await trio.sleep(1)
        (box,) = await rt.store.mailbox_statistics()
    assert got == ["first", "second", *(f"s{n}" for n in range(10))]
    assert box.depth == 0
