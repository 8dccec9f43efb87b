"""Review: a durable mailbox's depth on JetStream is its stored messages, not the prefetch window.

As on SQLite (tests/durable/test_durable_review6_depth.py), the depth that
``rt.tree()``, the live view and the metrics show is the mailbox's messages
stored and not settled; on JetStream the server holds that count, read again
while the depth is read, with this process's own writes and settlements
counted at once.
"""

from __future__ import annotations

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Gated(trouper.Actor):
    """Waits on ``gate`` in each handler."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @trouper.handler
    async def job(self, message: Job) -> None:
        await self.gate.wait()


def _depth(rt: trouper.Runtime, name: str) -> int | None:
    """The mailbox depth ``rt.tree()`` shows for ``name``."""
    info = rt.tree().find(f"/{name}")
    return None if info is None else info.mailbox_depth


async def _stored(rt: trouper.Runtime) -> int:
    """The depth of the only mailbox, as the server reports it."""
    (box,) = await rt.store.mailbox_statistics()
    return box.depth


async def test_the_tree_shows_every_stored_message_beyond_the_prefetch_window(
    js_server: NatsServer, prefix: str
) -> None:
    """200 stored, 16 prefetched, 1 being handled: the tree says 200 once they are told."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        gate = trio.Event()
        ref = await rt.spawn(Gated, gate, name="billing", mailbox=Durable(prefetch=16))
        for n in range(200):
            await ref.tell(Job(n))
        # This process's own tells count as soon as they are stored.
        assert _depth(rt, "billing") == 200
        assert await _stored(rt) == 200
        gate.set()
        await eventually(lambda: _depth(rt, "billing") == 0)

        async def drained() -> bool:
            return await _stored(rt) == 0

        await eventually(drained)  # the server applies acks in its own time
        assert _depth(rt, "billing") == 0


async def test_the_depth_counts_messages_another_process_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """Messages told by another store on the server show in the host's tree, then drain."""
    async with (
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as host,
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as sender,
    ):
        gate = trio.Event()
        await host.spawn(Gated, gate, name="billing", mailbox=Durable(prefetch=4))
        ref = durable_ref(sender, "billing")
        for n in range(30):
            await ref.tell(Job(n))
        await eventually(lambda: _depth(host, "billing") == 30)
        gate.set()
        await eventually(lambda: _depth(host, "billing") == 0)
