"""Review 6: ``publish_nowait`` checks its arguments before the buffer, and sizes buffers in bytes.

The scripted server never reads, and the publishes run without a checkpoint,
so the write buffer is over its bound deterministically.
"""

from __future__ import annotations

from array import array

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import Client, MaxPayloadExceeded, OutboundBufferFull, connect
from trouper.nats.protocol import pub_command

pytestmark = pytest.mark.real_clock

INTS = array("i", range(5))
"""Five 4-byte items: a memoryview of it has len 5 and nbytes 20."""


def fill_write_buffer(nc: Client) -> None:
    """Publish without yielding until ``publish_nowait`` refuses for a full write buffer."""
    for _ in range(1000):
        try:
            nc.publish_nowait("filler", b"x" * 1024)
        except OutboundBufferFull:
            return
    raise AssertionError("the write buffer never filled")


async def test_publish_nowait_raises_type_error_before_buffer_full() -> None:
    """A payload of the wrong type gets its TypeError even when the buffer is full."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, write_buffer_size=0) as (nc, _):
            fill_write_buffer(nc)
            with pytest.raises(TypeError, match=r"^a payload must be bytes, got str$"):
                nc.publish_nowait("s", "text")  # type: ignore[arg-type]
            with pytest.raises(
                ValueError,
                match=r"^a subject must be non-empty dot-separated tokens without whitespace, "
                r"got 'bad subject'$",
            ):
                nc.publish_nowait("bad subject", b"x")


async def test_publish_nowait_buffer_full_counts_a_memoryview_in_bytes() -> None:
    """The refused size of a memoryview of ints is its bytes (20), not its items (5)."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, write_buffer_size=0) as (nc, _):
            fill_write_buffer(nc)
            command = len(b"PUB s 20\r\n") + 20 + 2
            with pytest.raises(
                OutboundBufferFull,
                match=rf"^outbound buffer full: {command} bytes more would exceed its bound "
                r"of 0 bytes; the message was not sent$",
            ):
                nc.publish_nowait("s", memoryview(INTS))


async def test_publish_nowait_memoryview_counts_nbytes_against_max_payload() -> None:
    """A memoryview of ints over max_payload in bytes (not in items) is refused."""
    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:

            async def serve() -> None:
                peer = await server.accept()
                await peer.handshake(max_payload=16)

            nursery.start_soon(serve)
            async with connect(server.url) as nc:
                with pytest.raises(
                    MaxPayloadExceeded,
                    match=r"^message of 20 bytes exceeds the server's max_payload of 16$",
                ):
                    nc.publish_nowait("s", memoryview(INTS))


def test_pub_command_sizes_a_memoryview_in_bytes() -> None:
    """``pub_command`` announces a memoryview's nbytes, the bytes it then writes."""
    view = memoryview(array("i", [1, 2]))
    assert pub_command("a", None, view) == b"PUB a 8\r\n" + view.tobytes() + b"\r\n"
    assert pub_command("a", None, view, b"NATS/1.0\r\n\r\n") == (
        b"HPUB a 12 20\r\nNATS/1.0\r\n\r\n" + view.tobytes() + b"\r\n"
    )
