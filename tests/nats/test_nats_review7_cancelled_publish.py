"""Review 7: a publish cancelled while it waits for room sent nothing (scripted server).

The scripted server reads nothing at first, so the client's socket fills and
the write buffer stays over ``write_buffer_size``: ``publish`` then waits.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from nats_fake import connected, fake_server

from trouper.nats import OutboundBufferFull

pytestmark = pytest.mark.real_clock

FILL = b"x" * (64 * 1024)


async def test_publish_cancelled_while_waiting_for_room_is_not_sent() -> None:
    """``publish`` documents that, if cancelled, nothing was sent: the server never gets it."""
    published: list[str] = []
    with trio.fail_after(10):
        async with fake_server() as server, connected(server, write_buffer_size=1024) as (nc, peer):
            while True:  # until the write buffer stays full: the socket takes no more
                await trio.testing.wait_all_tasks_blocked()
                try:
                    nc.publish_nowait("fill", FILL)
                except OutboundBufferFull:
                    break
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(nc.publish, "cancelled", b"never")
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()

            async def publish_then_flush() -> None:
                await nc.publish("after", b"last")
                await nc.flush()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(publish_then_flush)
                while (line := (await peer.read_command())[0]) != "PING":
                    published.append(line.split()[1] if line.startswith("PUB ") else line)
                await peer.send(b"PONG\r\n")
    assert "cancelled" not in published
    assert published[-1] == "after"
