"""Review 26: an INFO whose ``max_payload`` is not a positive int leaves the limit as it was.

``True`` is an ``int`` to Python, so ``"max_payload": true`` made the limit 1
byte and every publish of more than one byte raised ``MaxPayloadExceeded``.
Only a JSON integer (not a boolean) above zero is a limit; any other value is
ignored, in the INFO of the handshake and in one sent while connected alike,
as the client ignores the INFO fields it cannot read (a server announcing a
nonsense limit still takes what it took before, and replacing every
connection over it would leave the client with none).
"""

from __future__ import annotations

import json

import pytest
import trio
from nats_fake import fake_server, wait_for

from trouper.nats import connect

pytestmark = pytest.mark.real_clock

BAD = [True, False, "2048", 2048.0, 0, -1, None, [2048]]


@pytest.mark.parametrize("bad", BAD, ids=repr)
async def test_a_bad_max_payload_in_the_handshake_keeps_the_default(bad: object) -> None:
    """The default 1 MiB stays, and a 2000-byte publish goes out."""
    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:

            async def serve() -> None:
                peer = await server.accept()
                await peer.handshake(max_payload=bad)
                line, payload = await peer.read_command()
                assert (line, payload) == ("PUB big 2000", b"x" * 2000)

            nursery.start_soon(serve)
            async with connect(server.url) as nc:
                assert nc.max_payload == 1024 * 1024
                await nc.publish("big", b"x" * 2000)


@pytest.mark.parametrize("bad", BAD, ids=repr)
async def test_a_bad_max_payload_sent_while_connected_keeps_the_last_limit(bad: object) -> None:
    """After a valid limit of 4096 and then a bad one, the limit is still 4096."""
    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:
            peers = []

            async def serve() -> None:
                peer = await server.accept()
                await peer.handshake(max_payload=4096)
                peers.append(peer)

            nursery.start_soon(serve)
            async with connect(server.url) as nc:
                await wait_for(lambda: bool(peers))
                info = {"server_id": "FAKE", "max_payload": bad, "connect_urls": []}
                await peers[0].send(b"INFO " + json.dumps(info).encode() + b"\r\n")
                await wait_for(lambda: nc.server_info.get("max_payload") == bad)
                assert nc.max_payload == 4096
                await nc.publish("big", b"x" * 2000)
                line, payload = await peers[0].read_command()
                assert (line, payload) == ("PUB big 2000", b"x" * 2000)
