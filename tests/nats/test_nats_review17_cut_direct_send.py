"""Review 17: a command a direct send cut goes out whole on the next connection, writer or not.

After a quiet spell a publish is sent by the publishing task itself, or by
the flusher just before Trio waits for I/O; when the socket takes only part
of it, the flusher wakes the writer through ``run_sync_soon``. If the
connection broke in between (the reader saw the server's end of the stream
first), the writer never took the rest: it was still at the front of the
write buffer, where the disconnect left it as it was, so the next connection
began with the middle of a payload (the server would read garbage, and the
publish was lost) instead of the whole cut command, as docs/nats.md promises.

Which of the reader and the writer's wake-up runs first is Trio's choice
(a batch runs in one order or its reverse), so the test cuts a publish that
way many times; each time the next connection must start with it, whole.
"""

from __future__ import annotations

import json
import socket

import pytest
import trio
import trio.testing
from nats_fake import DEFAULT_INFO, Peer, fake_server

from trouper.nats import connect

pytestmark = pytest.mark.real_clock

_BIG = 16 * 1024 * 1024  # more than loopback's socket buffers take: a send stops part way
_ATTEMPTS = 40


async def _handshake(peer: Peer) -> None:
    info = {**DEFAULT_INFO, "max_payload": 4 * _BIG}
    await peer.send(b"INFO " + json.dumps(info).encode() + b"\r\n")
    assert (await peer.read_line()).startswith("CONNECT ")
    assert await peer.read_line() == "PING"
    await peer.send(b"PONG\r\n")


async def test_a_publish_cut_by_a_drop_starts_the_next_connection_whole() -> None:
    """Each time, the next connection starts with the cut publish, whole; never with its middle."""
    big = b"z" * _BIG
    send_peer, receive_peer = trio.open_memory_channel[Peer](1)
    with trio.fail_after(60):
        async with fake_server() as server, trio.open_nursery() as nursery:

            async def accept() -> None:
                while True:
                    peer = await server.accept()
                    await _handshake(peer)
                    await send_peer.send(peer)

            nursery.start_soon(accept)
            heads: list[bytes] = []
            with trio.CancelScope() as abandon:
                async with connect(
                    server.url,
                    reconnect_wait=0,
                    reconnect_jitter=0,
                    write_buffer_size=8 * _BIG,
                    reconnect_buffer_size=8 * _BIG,
                ) as nc:
                    peer = await receive_peer.receive()
                    for _ in range(_ATTEMPTS):
                        await trio.testing.wait_all_tasks_blocked()
                        # The server ends its side (the client's reader sees the end of
                        # the stream) but still takes bytes, reading none: "big" is cut.
                        peer.stream.socket.shutdown(socket.SHUT_WR)
                        nc.publish_nowait("a", b"x")
                        nc.publish_nowait("b", b"y")
                        nc.publish_nowait("big", big)
                        new = await receive_peer.receive()
                        await trio.aclose_forcefully(peer.stream)
                        heads.append(await new.read_exact(4))
                        if heads[-1] != b"PUB ":
                            abandon.cancel()  # (the client closes at once: no 16 MiB to write)
                            break
                        assert await new.read_line() == f"big {_BIG}"
                        assert await new.read_exact(_BIG + 2) == big + b"\r\n"
                        peer = new
            nursery.cancel_scope.cancel()
    assert heads == [b"PUB "] * _ATTEMPTS
