"""drain() during an outage waits for the reconnect and writes what was published meanwhile."""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, wait_for

from trouper.nats import ConnectionClosed, Status

pytestmark = pytest.mark.real_clock

FAST_RECONNECT: dict[str, object] = {"reconnect_wait": 0.01, "reconnect_jitter": 0.0}


async def test_drain_while_reconnecting_sends_the_outage_buffer() -> None:
    """A publish buffered during the outage reaches the next server before drain() returns."""
    received: list[bytes | None] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, **FAST_RECONNECT) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("kept", b"published in the outage")

            async def serve_again() -> None:
                second = await server.accept()
                await second.handshake()
                line, payload = await second.read_command()
                while not line.startswith("PUB kept"):
                    line, payload = await second.read_command()
                received.append(payload)
                for _ in range(2):  # the drain's UNSUBs, then what was published since
                    await second.read_until("PING")
                    await second.send(b"PONG\r\n")

            nursery.start_soon(serve_again)
            await nc.drain()
            assert nc.status is Status.CLOSED
    assert received == [b"published in the outage"]


async def test_drain_when_reconnecting_gives_up_raises() -> None:
    """If no server comes back, drain() says the client closed rather than returning quietly."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, max_reconnect_attempts=1, reconnect_wait=0.2) as (nc, peer),
        ):
            await server.close()
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("lost", b"never sent")  # (the next attempt is 0.2 s away)
            with pytest.raises(ConnectionClosed, match=r"^the client is closed: "):
                await nc.drain()
