"""Review: watching an actor twice delivers one ``Terminated``, also once it has stopped.

docs/supervision.md promises it; a watch of an actor already stopped answered
at once and forgot the watch, so a second watch (in the same handler, or before
the first ``Terminated`` was handled) was answered again.
"""

from __future__ import annotations

import attrs
import trio.testing

import trouper
from trouper import Actor, Terminated, handler


@attrs.frozen
class WatchTwice:
    target: trouper.ActorRef[object]


@attrs.frozen
class Seen:
    """Asks what the watcher has been told."""


class Watcher(Actor):
    """Watches what it is told to, twice; journals the ``Terminated`` it gets."""

    def __init__(self) -> None:
        self.journal: list[str] = []

    @handler
    async def watch_twice(self, message: WatchTwice) -> None:
        self.ctx.watch(message.target)
        self.ctx.watch(message.target)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.journal.append(message.ref.address.path)

    @handler
    async def seen(self, message: Seen) -> list[str]:
        return self.journal


class Idle(Actor):
    """Does nothing."""

    @handler
    async def anything(self, message: int) -> None:
        pass


async def test_watching_a_stopped_actor_twice_delivers_one_terminated() -> None:
    """Two watches of an actor already stopped, in one handler: one ``Terminated``."""
    async with trouper.open_runtime() as rt:
        gone = await rt.spawn(Idle, name="gone")
        await rt.stop(gone)
        watcher = await rt.spawn(Watcher)
        await watcher.tell(WatchTwice(gone))
        await trio.testing.wait_all_tasks_blocked()
        assert await watcher.ask(Seen()) == ["/gone"]


async def test_a_watch_again_after_the_terminated_was_handled_is_answered_again() -> None:
    """Once its ``Terminated`` was handled, watching the stopped actor again delivers another."""
    async with trouper.open_runtime() as rt:
        gone = await rt.spawn(Idle, name="gone")
        await rt.stop(gone)
        watcher = await rt.spawn(Watcher)
        await watcher.tell(WatchTwice(gone))
        await trio.testing.wait_all_tasks_blocked()
        await watcher.tell(WatchTwice(gone))
        await trio.testing.wait_all_tasks_blocked()
        assert await watcher.ask(Seen()) == ["/gone", "/gone"]
