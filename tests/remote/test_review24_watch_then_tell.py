"""Review 24: a watch made before a tell reaches the other node before that tell.

``ctx.watch(remote_ref)`` queued its request from a task of its own, so a
tell the watcher made right after it (before yielding) left first. A tell
that made the actor fail could then stop it before the watch arrived, and the
watcher got ``Terminated`` with reason ``None`` (the node had no such actor
by then), not the error it failed with, as it would in one process (and in
Erlang, where a monitor and a message from one process to another keep their
order); whether it did depended on how the other node read the two. The
request now leaves in order with the tells made around it, which the test
reads on the wire.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import Note, Notes, nodes, wait_for

import trouper.nats
from trouper import Actor, ActorRef, Terminated, handler
from trouper.nats import Msg
from trouper.remote import Nats
from trouper.remote.wire import unpack
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class WatchesBetweenTells(Actor):
    """Sent a ref, tells it ``Note("before")``, watches it, tells it ``Note("after")``."""

    @handler
    async def start(self, message: ActorRef) -> None:  # type: ignore[type-arg]
        await message.tell(Note("before"))
        self.ctx.watch(message)
        await message.tell(Note("after"))

    @handler
    async def terminated(self, message: Terminated) -> None:
        pass


async def test_a_watch_request_leaves_between_the_tells_made_around_it(
    cluster_server: NatsServer, transport: Nats, prefix: str
) -> None:
    """On the wire: the tell before the watch, the watch request, then the tell after it."""
    wire: list[str] = []

    def note(msg: Msg) -> None:
        if msg.subject == f"{prefix}.node.bank":
            control = unpack(msg.data)
            if isinstance(control, list) and control[0] == "watch":  # (not the last unwatch)
                wire.append("watch")
        else:
            wire.append(
                f"tells: {msg.data.count(b'before')} before, {msg.data.count(b'after')} after"
            )

    seen: list[object] = []
    async with (
        trouper.nats.connect(cluster_server.url) as spy,
        nodes(transport, "bank", "web") as (bank, web),
    ):
        await spy.subscribe(f"{prefix}.actor.bank.notes", callback=note)
        await spy.subscribe(f"{prefix}.node.bank", callback=note)
        await spy.flush()
        await bank.spawn(Notes, seen, name="notes")
        watcher = await web.spawn(WatchesBetweenTells)
        await watcher.tell(web.remote("bank", "notes"))
        with trio.fail_after(20):
            await wait_for(lambda: len(seen) == 2 and "watch" in wire)
    assert seen == ["before", "after"]
    assert wire == ["tells: 1 before, 0 after", "watch", "tells: 0 before, 1 after"]
