"""A cancelled ask gives its mailbox room back: it never holds a place a tell could use."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, MailboxFull, handler
from trouper.runtime.lowlevel import Cell, Instrument


@attrs.frozen
class Work:
    """Keeps the handler busy for 10 s."""


@attrs.frozen
class Note:
    n: int


class Busy(Actor):
    """Handles ``Work`` slowly and records every ``Note``."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    @handler
    async def work(self, message: Work) -> str:
        await trio.sleep(10)
        self.seen.append("work")
        return "done"

    @handler
    async def note(self, message: Note) -> int:
        self.seen.append(message.n)
        return message.n


def depth(rt: trouper.Runtime, path: str) -> int:
    info = rt.tree().find(path)
    assert info is not None
    return info.mailbox_depth


async def test_cancelled_asks_free_their_room_at_once() -> None:
    """Two asks cancelled while queued leave a mailbox of 2 empty: two tell_nowait fit."""
    seen: list[object] = []
    async with trouper.open_runtime(mailbox_size=2) as rt:
        busy = await rt.spawn(Busy, seen, name="busy")
        await busy.tell(Work())
        await trio.testing.wait_all_tasks_blocked()
        for n in (1, 2):
            with trio.move_on_after(1):
                await busy.ask(Note(n))
        assert depth(rt, "/busy") == 0
        busy.tell_nowait(Note(3))
        busy.tell_nowait(Note(4))
        with pytest.raises(MailboxFull):
            busy.tell_nowait(Note(5))
        await trio.sleep(10)
        assert seen == ["work", 3, 4]
        assert rt.dead_letters.recent == ()


class Delivered(Instrument):
    """Counts deliveries (so that sends take the instrumented path)."""

    def __init__(self) -> None:
        self.count = 0

    def message_delivered(self, actor: Cell, message: object) -> None:
        self.count += 1


@pytest.mark.parametrize("instrumented", [False, True])
@pytest.mark.parametrize("awaited", [False, True])
async def test_a_full_mailbox_makes_room_of_cancelled_asks(
    awaited: bool, instrumented: bool
) -> None:
    """A cancelled ask among live messages is dropped when a tell finds the mailbox full."""
    seen: list[object] = []
    async with trouper.open_runtime(mailbox_size=4) as rt:
        if instrumented:
            rt.instruments.add(Delivered())
        busy = await rt.spawn(Busy, seen, name="busy")
        await busy.tell(Work())
        await trio.testing.wait_all_tasks_blocked()
        for n in (1, 2, 3):
            busy.tell_nowait(Note(n))
        with trio.move_on_after(1):
            await busy.ask(Note(4))
        # Full of 3 live messages and a withdrawn ask: the tell takes the ask's place.
        before = trio.current_time()
        if awaited:
            await busy.tell(Note(5))
        else:
            busy.tell_nowait(Note(5))
        assert trio.current_time() == before  # not after the 10 s handler
        assert depth(rt, "/busy") == 4
        await trio.sleep(10)
        assert seen == ["work", 1, 2, 3, 5]
        assert rt.dead_letters.recent == ()


async def test_a_withdrawn_ask_left_queued_at_a_stop_is_no_dead_letter() -> None:
    """Queued tells become dead letters at the stop; an ask its asker withdrew does not."""
    seen: list[object] = []
    async with trouper.open_runtime(mailbox_size=10) as rt:
        busy = await rt.spawn(Busy, seen, name="busy")
        await busy.tell(Work())
        await trio.testing.wait_all_tasks_blocked()
        for n in (1, 2, 3, 4, 5):
            busy.tell_nowait(Note(n))
        with trio.move_on_after(1):
            await busy.ask(Note(6))
        assert depth(rt, "/busy") == 6  # (one withdrawn ask among five tells: not swept yet)
        await rt.stop(busy)
        assert [letter.message for letter in rt.dead_letters.recent] == [
            Note(n) for n in (1, 2, 3, 4, 5)
        ]
