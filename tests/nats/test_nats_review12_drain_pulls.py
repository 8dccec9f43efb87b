"""Review 12: a connection that drops during ``drain()`` while a pull feed or stream is open.

The drain refuses new subscriptions; a feed or stream moves its pulls to a
new inbox at a drop. The drop must neither escape the client's background
task nor stop the drain.
"""

from __future__ import annotations

import contextlib

import pytest
import trio
from nats_fake import connected, drain_into, fake_server, unread_work, wait_for

from trouper.nats import Disconnected, PullConsumer, Status

pytestmark = pytest.mark.real_clock

FAST_RECONNECT: dict[str, object] = {"reconnect_wait": 0.01, "reconnect_jitter": 0.0}


@pytest.mark.parametrize("puller", ["feed", "consume"])
async def test_drop_during_drain_with_pulls_open_lets_the_drain_finish(puller: str) -> None:
    """A drop while draining with a feed or stream open: reported, reconnected, drain ends."""
    events: list[object] = []
    drained: list[object] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append, **FAST_RECONNECT) as (nc, peer),
            trio.open_nursery() as nursery,
            contextlib.AsyncExitStack() as stack,
        ):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            if puller == "feed":
                stack.callback(consumer.feed(lambda m: None).close)
            else:
                await stack.enter_async_context(consumer.consume())
            sub = await unread_work(nc, peer, b"x")
            nursery.start_soon(drain_into, nc, drained)
            # The drain waits for "work" to be read; the connection drops meanwhile.
            await peer.read_until("PING")
            await peer.send(b"PONG\r\n")
            await peer.close()
            await wait_for(lambda: any(isinstance(e, Disconnected) for e in events))
            again = await server.accept()
            await again.handshake()
            await wait_for(lambda: nc.status is Status.DRAINING)
            assert (await sub.next_msg()).data == b"x"
            with contextlib.suppress(EOFError):  # (the client leaves once drained)
                while True:
                    line, _ = await again.read_command()
                    if line == "PING":
                        await again.send(b"PONG\r\n")
            await wait_for(lambda: bool(drained))
    assert drained == ["drained"]
