"""Review: a watcher or a watched endpoint that raises does not break an actor's stop.

Finalizing "always runs": it tells the actor's watchers and links and
withdraws its own watches through the watched refs' endpoints (a layer's:
a remote node's, a bridge's). One of those that raised left the stop half
done: the watchers and links after it were never told, the supervisor kept
the stopped child listed, and the error went to whoever was stopping the
actor (``rt.stop`` raised it) or, from the actor's own task, out of the
runtime.
"""

from __future__ import annotations

import logging

import pytest

import trouper
from trouper import Actor, ActorRef, Address, handler
from trouper.runtime import lowlevel


class LinkDown:
    """An endpoint whose ``unwatch`` raises (its link to the other node is down, say)."""

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        return False

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        return False

    async def ask(self, message: object) -> object:
        return None

    def watch(self, watcher: lowlevel.Watcher) -> None:
        pass

    def unwatch(self, watcher: lowlevel.Watcher) -> None:
        raise ConnectionError("link down")


class Refuses:
    """A watcher (a layer's) whose ``terminated`` raises."""

    def terminated(self, ref: ActorRef[object], reason: BaseException | None) -> None:
        raise ConnectionError("cannot pass the notice on")


class Records:
    """A watcher that records what it is told."""

    def __init__(self) -> None:
        self.told: list[ActorRef[object]] = []

    def terminated(self, ref: ActorRef[object], reason: BaseException | None) -> None:
        self.told.append(ref)


class WatchesFar(Actor):
    """Watches the ref it is given from its start; idle, it is stopped at once."""

    def __init__(self, far: ActorRef[object]) -> None:
        self.far = far

    async def on_start(self) -> None:
        self.ctx.watch(self.far)

    @handler
    async def note(self, message: str) -> None:
        pass


class WatchesFarAndFlushes(WatchesFar):
    """Also has an ``on_stop``: its stop runs in its own task."""

    async def on_stop(self) -> None:
        pass


@pytest.mark.parametrize("kind", [WatchesFar, WatchesFarAndFlushes])
async def test_an_endpoint_whose_unwatch_raises_leaves_the_stop_whole(
    kind: type[WatchesFar], caplog: pytest.LogCaptureFixture
) -> None:
    """The stop completes, is logged, tells the watchers; ``rt.stop`` returns."""
    far: ActorRef[object] = ActorRef(Address("elsewhere", "/far"), LinkDown())
    records = Records()
    with caplog.at_level(logging.ERROR, logger="trouper"):
        async with trouper.open_runtime() as rt:
            ref = await rt.spawn(kind, far, name="near")
            lowlevel.cell_of(ref).watch(records)
            await rt.stop(ref)
            assert records.told == [ref]
            assert [cell.child_id for cell in rt.root.children] == []
    assert "ConnectionError: link down" in caplog.text


async def test_a_watcher_whose_terminated_raises_leaves_the_others_told() -> None:
    """The watchers after it are told and links fire; ``rt.stop`` returns."""
    records = Records()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Actor, name="watched")
        cell = lowlevel.cell_of(ref)
        cell.watch(Refuses())
        cell.watch(records)
        await rt.stop(ref)
        assert records.told == [ref]
        assert rt.root.children == []
