"""Sends from asyncio reach the instruments with the kind the caller used."""

from __future__ import annotations

import asyncio

import pytest
from aio_actors import Gates, Hold, Holder, Note, run

from trouper.aio import open_runtime
from trouper.runtime.lowlevel import Cell, Instrument, SendKind

pytestmark = pytest.mark.real_clock


class Kinds(Instrument):
    """Journals the kind of every ``Note`` sent."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if isinstance(message, Note):
            self.journal.append(f"{kind.value} {message.tag}")
        return None


def test_an_awaited_tell_that_finds_room_is_reported_as_a_tell() -> None:
    """``await tell`` from asyncio, carried by the pump with room: ``SendKind.TELL``."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=4) as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, [])
            await rt.run_sync(rt.runtime.instruments.add, Kinds(journal))
            await holder.tell(Note("told"))  # sends are watched: it crosses as a job
            holder.tell_nowait(Note("nowait"))
            await holder.ask(Note("asked"))
            await gates.open(rt)

    run(main)
    assert journal == ["tell told", "tell_nowait nowait", "ask asked"]


def test_an_awaited_tell_that_waits_for_room_is_reported_as_a_tell() -> None:
    """``await tell`` from asyncio to a full mailbox: one ``SendKind.TELL`` once it gets in."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=1) as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, [])
            await rt.run_sync(rt.runtime.instruments.add, Kinds(journal))
            gates.held = asyncio.create_task(holder.ask(Hold()))
            await gates.wait_started(rt)
            holder.tell_nowait(Note("fill"))
            later = asyncio.create_task(holder.tell(Note("late")))
            await asyncio.sleep(0)
            await rt.run_sync(len, journal)  # a job after it: it has met the full mailbox
            await gates.open(rt)
            await later

    run(main)
    assert journal == ["tell_nowait fill", "tell late"]


def test_a_tell_nowait_that_crosses_to_a_full_mailbox_is_reported_as_a_tell_nowait() -> None:
    """Filled from Trio before it crossed, it waits in a lane: still ``SendKind.TELL_NOWAIT``."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=2) as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, [])
            await rt.run_sync(rt.runtime.instruments.add, Kinds(journal))
            gates.held = asyncio.create_task(holder.ask(Hold()))
            await gates.wait_started(rt)
            holder.tell_nowait(Note("crossing"))  # sends are watched: it crosses as a job
            holder.ref.tell_nowait(Note("fill 1"))  # the engine's own: in at once
            holder.ref.tell_nowait(Note("fill 2"))
            await rt.run_sync(len, journal)  # a job after it: it has met the full mailbox
            await gates.open(rt)
            await holder.ask(Note("flush"))

    run(main)
    assert journal == [
        "tell_nowait fill 1",
        "tell_nowait fill 2",
        "tell_nowait crossing",
        "ask flush",
    ]
