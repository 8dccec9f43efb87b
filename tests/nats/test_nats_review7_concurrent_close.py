"""Review 7: a close() called while another close writes the buffer waits for it (scripted server).

The scripted server reads nothing at first, so the first ``close()`` waits for
its buffer to be written; a second call (the ``async with`` block's end, say)
returned at once, and connect() then stopped the writer: the bytes were not
sent and the first call blamed a dropped connection.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import Peer, close_into, connected, fake_server, wait_for

from trouper.nats import Status

pytestmark = pytest.mark.real_clock

PAYLOAD = b"x" * (512 * 1024)
PILE = 16
"""8 MiB published: more than a loopback connection's socket buffers take."""


async def count_publishes(peer: Peer, counted: list[int]) -> None:
    """Read the client's commands until it leaves; count the publishes."""
    counted.append(0)
    try:
        while True:
            line, _ = await peer.read_command()
            if line.startswith("PUB "):
                counted[0] += 1
    except (EOFError, trio.BrokenResourceError):
        pass


async def test_the_block_s_close_waits_for_a_close_writing_the_buffer() -> None:
    """The ``async with`` block ends once the first close() wrote every publish; none is lost."""
    first: list[object] = []
    counted: list[int] = []
    with trio.fail_after(10):
        async with fake_server() as server, trio.open_nursery() as outside:
            async with connected(server, write_buffer_size=64 * 1024 * 1024) as (nc, peer):
                for _ in range(PILE):
                    nc.publish_nowait("pile", PAYLOAD)
                outside.start_soon(close_into, nc, first)
                await wait_for(lambda: nc.status is Status.CLOSED)
                outside.start_soon(count_publishes, peer, counted)
            assert nc.statistics().buffered_bytes == 0
    assert (first, counted) == (["closed"], [PILE])


async def test_drain_waits_for_a_close_writing_the_buffer() -> None:
    """``drain()`` called while close() writes returns once it has finished, not at once."""
    first: list[object] = []
    counted: list[int] = []
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            trio.open_nursery() as outside,
            connected(server, write_buffer_size=64 * 1024 * 1024) as (nc, peer),
        ):
            for _ in range(PILE):
                nc.publish_nowait("pile", PAYLOAD)
            outside.start_soon(close_into, nc, first)
            await wait_for(lambda: nc.status is Status.CLOSED)
            outside.start_soon(count_publishes, peer, counted)
            await nc.drain()
            assert nc.statistics().buffered_bytes == 0
    assert (first, counted) == (["closed"], [PILE])
