"""Review 2: a reconnect sends each live subscription's SUB exactly once (scripted server)."""

from __future__ import annotations

import pytest
import trio
from nats_fake import Peer, connected, fake_server, wait_for

from trouper.nats import Status

pytestmark = pytest.mark.real_clock


async def _commands_until_ping(peer: Peer) -> list[str]:
    lines: list[str] = []
    while True:
        line, _ = await peer.read_command()
        if line == "PING":
            await peer.send(b"PONG\r\n")
            return lines
        lines.append(line)


async def test_a_subscription_made_while_reconnecting_is_subscribed_once() -> None:
    """A SUB queued in the outage buffer is not sent again by the resubscription."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.01, reconnect_jitter=0.0) as (nc, peer),
        ):
            before = await nc.subscribe("a")
            await peer.read_until("SUB a")
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            during = await nc.subscribe("b")
            second = await server.accept()
            await second.handshake()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(nc.flush)
                lines = await _commands_until_ping(second)
            subs = sorted(line for line in lines if line.startswith("SUB "))
            assert subs == [f"SUB a {before.sid}", f"SUB b {during.sid}"]


async def test_a_limited_subscription_made_while_reconnecting_is_sent_once() -> None:
    """A ``max_msgs`` subscription made in an outage goes out as one SUB and one UNSUB."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.01, reconnect_jitter=0.0) as (nc, peer),
        ):
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            sub = nc.subscribe_nowait("c", callback=lambda msg: None, max_msgs=3)
            second = await server.accept()
            await second.handshake()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(nc.flush)
                lines = await _commands_until_ping(second)
            assert lines == [f"SUB c {sub.sid}", f"UNSUB {sub.sid} 3"]
