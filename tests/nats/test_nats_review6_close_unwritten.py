"""Review 6: a close whose connection drops before the buffer is written says so (scripted server).

The scripted server never reads, so the socket fills and the publishes stay
buffered while ``close()`` waits for them to be written; the server then
drops the connection.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import close_into, connected, fake_server, wait_for

from trouper.nats import ConnectionLost, Status

pytestmark = pytest.mark.real_clock

PAYLOAD = b"x" * (512 * 1024)
PILE = 32
"""16 MiB published: more than a loopback connection's socket buffers take."""


async def test_close_raises_when_the_connection_drops_before_the_buffer_is_written() -> None:
    """``close()`` raises ConnectionLost naming the bytes it could not write."""
    closed: list[object] = []
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(server, write_buffer_size=64 * 1024 * 1024) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            for _ in range(PILE):
                nc.publish_nowait("pile", PAYLOAD)
            nursery.start_soon(close_into, nc, closed)
            await wait_for(lambda: nc.status is Status.CLOSED)
            await peer.close()
            await wait_for(lambda: bool(closed))
    assert len(closed) == 1
    assert isinstance(closed[0], ConnectionLost)
    assert str(closed[0]).startswith("the connection dropped before ")
    assert str(closed[0]).endswith(" buffered bytes were written: they were not sent")
