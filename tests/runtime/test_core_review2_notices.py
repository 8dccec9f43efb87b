"""Review: a ``Terminated`` or ``Exited`` for an actor that has stopped is a dead letter."""

from __future__ import annotations

import trio.testing

import trouper
from trouper import Actor, Exited, Terminated, handler
from trouper.routing import Balancing, members, resize
from trouper.runtime import DeadLetter, DeadLetterReason
from trouper.runtime.lowlevel import cell_of


class Trapper(Actor):
    """Takes both notices (and traps exits), so nothing but a stop keeps them out."""

    trap_exits = True

    @handler
    async def terminated(self, message: Terminated) -> None:
        pass

    @handler
    async def exited(self, message: Exited) -> None:
        pass


def _stopped_letters(letters: list[DeadLetter]) -> list[tuple[str, str, str]]:
    return [
        (type(letter.message).__name__, letter.recipient.path, letter.reason)
        for letter in letters
        if letter.reason == DeadLetterReason.ACTOR_STOPPED
    ]


async def test_notices_to_an_actor_whose_mailbox_closed_are_dead_letters() -> None:
    """``terminated`` and ``linked_stopped`` on a stopped actor post dead letters, raise nothing."""
    letters: list[DeadLetter] = []
    async with trouper.open_runtime() as rt:
        rt.dead_letters.listen(letters.append)
        watcher = await rt.spawn(Trapper, name="watcher")
        other = await rt.spawn(Trapper, name="other")
        cell = cell_of(watcher)
        await rt.stop(watcher)
        assert cell.mailbox.closed
        cell.terminated(other, None)
        cell.linked_stopped(cell_of(other), RuntimeError("gone"))
        await trio.testing.wait_all_tasks_blocked()
        assert _stopped_letters(letters) == [
            ("Terminated", "/watcher", DeadLetterReason.ACTOR_STOPPED),
            ("Exited", "/watcher", DeadLetterReason.ACTOR_STOPPED),
        ]
        [terminated, exited] = [letter.message for letter in letters]
        assert isinstance(terminated, Terminated)
        assert terminated.ref == other
        assert isinstance(exited, Exited)
        assert exited.ref == other


async def test_notices_to_a_stopped_pool_member_are_dead_letters() -> None:
    """A balancing pool member stopped by a resize: its notices are its dead letters."""
    letters: list[DeadLetter] = []
    async with trouper.open_runtime() as rt:
        rt.dead_letters.listen(letters.append)
        other = await rt.spawn(Trapper, name="other")
        pool = await rt.spawn_pool(Trapper, 2, router=Balancing(), name="pool")
        first, second = await members(pool)
        await resize(pool, 1)
        [kept] = await members(pool)
        gone = second if kept == first else first
        cell = cell_of(gone)
        assert cell.stopped
        cell.terminated(other, None)
        cell.linked_stopped(cell_of(other), None)
        await trio.testing.wait_all_tasks_blocked()
        path = gone.address.path
        assert _stopped_letters(letters) == [
            ("Terminated", path, DeadLetterReason.ACTOR_STOPPED),
            ("Exited", path, DeadLetterReason.ACTOR_STOPPED),
        ]
        # The pool and its remaining member go on.
        assert await members(pool) == (kept,)
