"""Review 17: what the server sends right behind the handshake's PONG is handled at once.

nats-server answers ``CONNECT``+``PING`` with ``PONG`` and, in the same write,
an ``INFO`` (``client_id``, ``connect_info``...); a server may put a ``PING``
or a lame-duck ``INFO`` there too. The handshake read up to the ``PONG`` and
left the rest in the parser, where the reader only looked after its next
receive: a ``PING`` stayed unanswered, and ``server_info`` and ``LameDuck``
waited, until the server happened to send something else.
"""

from __future__ import annotations

import json

import pytest
import trio
from nats_fake import DEFAULT_INFO, Peer, fake_server

from trouper.nats import ClientEvent, LameDuck, connect

pytestmark = pytest.mark.real_clock


async def _handshake(peer: Peer, tail: bytes) -> None:
    """Play the server's handshake, sending ``tail`` in the same write as the PONG."""
    await peer.send(b"INFO " + json.dumps(DEFAULT_INFO).encode() + b"\r\n")
    assert (await peer.read_line()).startswith("CONNECT ")
    assert await peer.read_line() == "PING"
    await peer.send(b"PONG\r\n" + tail)


async def test_a_ping_behind_the_first_pong_is_answered() -> None:
    """The server's PING that came with the handshake's PONG gets its PONG without more traffic."""
    answered = trio.Event()
    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:

            async def serve() -> None:
                peer = await server.accept()
                await _handshake(peer, b"PING\r\n")
                assert await peer.read_line() == "PONG"
                answered.set()

            nursery.start_soon(serve)
            async with connect(server.url):
                await answered.wait()


async def test_an_info_behind_the_first_pong_is_taken_at_once() -> None:
    """server_info and LameDuck come from the INFO sent with the PONG, before any more traffic."""
    events: list[ClientEvent] = []
    info = {**DEFAULT_INFO, "client_id": 7, "ldm": True}
    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:

            async def serve() -> None:
                peer = await server.accept()
                await _handshake(peer, b"INFO " + json.dumps(info).encode() + b"\r\n")

            nursery.start_soon(serve)
            async with connect(server.url, on_event=events.append) as nc:
                await trio.testing.wait_all_tasks_blocked()
                assert nc.server_info.get("client_id") == 7
                assert events == [LameDuck(f"127.0.0.1:{server.port}")]
