"""Sends from asyncio that wait for room are seen by the instruments once, as Trio's are."""

from __future__ import annotations

import asyncio

import pytest
import trio
from aio_actors import Gates, Hold, Holder, Note, run, until
from test_aio_review_crossing import Waiter, WaitFor

from trouper import MailboxFull
from trouper.aio import open_runtime
from trouper.runtime.lowlevel import Cell, Instrument, Interception, SendKind

pytestmark = pytest.mark.real_clock


class Sends(Instrument):
    """Journals every ``Note`` that is intercepted, sent and delivered."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        if isinstance(message, Note):
            self.journal.append(f"intercept {message.tag}")
        return None

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if isinstance(message, Note):
            self.journal.append(f"sent {message.tag}")
        return None

    def message_delivered(self, actor: Cell, message: object) -> None:
        if isinstance(message, Note):
            self.journal.append(f"delivered {message.tag}")


@pytest.mark.parametrize("send", ["ask", "tell"])
def test_a_send_that_waits_for_room_is_reported_once(send: str) -> None:
    """An ask or tell from asyncio to a full mailbox is intercepted and reported sent once."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=1) as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, [])
            await rt.run_sync(rt.runtime.instruments.add, Sends(journal))
            gates.held = asyncio.create_task(holder.ask(Hold()))
            await gates.wait_started(rt)
            await holder.tell(Note("fill"))
            journal.clear()
            later: asyncio.Task[object] = asyncio.create_task(
                holder.ask(Note("late")) if send == "ask" else holder.tell(Note("late"))
            )
            await asyncio.sleep(0)  # it crosses as a job: sends are watched
            await rt.run_sync(len, journal)  # a job after it: it has met the full mailbox
            await gates.open(rt)
            await later

    run(main)
    assert journal == ["intercept late", "sent late", "delivered late"]


def test_tell_nowait_while_sends_are_watched_refuses_a_mailbox_with_senders_waiting() -> None:
    """Room taken by a Trio sender waiting for it: ``MailboxFull``, as without instruments."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=2) as rt:
            first, second = await rt.run_sync(trio.Event), await rt.run_sync(trio.Event)
            waiter = await rt.spawn(Waiter, journal)
            held = asyncio.create_task(waiter.ask(WaitFor("a", first)))
            await until(lambda: journal == ["wait a"])
            await waiter.tell(WaitFor("b", second))
            await waiter.tell(Note("c"))  # full: the next sender waits for room
            parked = asyncio.create_task(rt.run(waiter.ref.tell, Note("d")))
            await asyncio.sleep(0)
            await rt.run_sync(rt.runtime.instruments.add, Sends([]))
            await rt.run_sync(first.set)
            assert await held == "a"
            await until(lambda: journal == ["wait a", "wait b"])
            # "c" in the mailbox, "d" waiting for the room "b" left: it is full.
            info = rt.tree().find(waiter.address.path)
            assert info is not None
            assert info.mailbox_depth == 1
            assert not parked.done()
            with pytest.raises(MailboxFull):
                waiter.tell_nowait(Note("e"))
            await rt.run_sync(second.set)
            await parked

    run(main)
    assert journal == ["wait a", "wait b", "c", "d"]
