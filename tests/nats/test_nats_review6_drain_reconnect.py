"""Review 6: a drain survives a reconnect (scripted server).

A connection that drops while ``drain()`` runs leaves the drain going on:
subscriptions stay refused, what was published in the outage is written
after the reconnect, and ``drain()`` returns only then.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from nats_fake import FakeServer, Peer, connected, drain_into, fake_server, msg_frame, wait_for

from trouper.nats import Client, ConnectionClosed, Status, Subscription

pytestmark = pytest.mark.real_clock

FAST_RECONNECT: dict[str, object] = {"reconnect_wait": 0.01, "reconnect_jitter": 0.0}
DRAINING = r"^the client is draining: it takes no new subscriptions$"


@asynccontextmanager
async def subscribed_to_work() -> AsyncIterator[
    tuple[FakeServer, Client, Peer, trio.Nursery, Subscription]
]:
    """A client of a scripted server (fast reconnects) subscribed to ``work``, and a nursery."""
    async with (
        fake_server() as server,
        connected(server, **FAST_RECONNECT) as (nc, peer),
        trio.open_nursery() as nursery,
    ):
        sub = await nc.subscribe("work")
        await peer.read_until("SUB work")
        yield server, nc, peer, nursery, sub


async def serve_until_closed(server: FakeServer, commands: list[str]) -> None:
    """Accept the reconnect; record every command and answer every PING until the client leaves."""
    peer = await server.accept()
    await peer.handshake()
    try:
        while True:
            line, payload = await peer.read_command()
            commands.append(line if payload is None else f"{line} {payload.decode()}")
            if line == "PING":
                await peer.send(b"PONG\r\n")
    except (EOFError, trio.BrokenResourceError):
        pass


async def refused_then_publish_in_outage(nc: Client) -> None:
    """Wait for the outage; subscribing is refused (draining), publishing is buffered."""
    await wait_for(lambda: nc.status is Status.RECONNECTING)
    with pytest.raises(ConnectionClosed, match=DRAINING):
        await nc.subscribe("late")
    await nc.publish("kept", b"published in the outage")


async def test_drop_during_drain_flush_keeps_draining_and_sends_the_outage_buffer() -> None:
    """A drop before the drain's PONG: the drain ends after the reconnect, buffer written."""
    commands: list[str] = []
    drained: list[object] = []
    with trio.fail_after(5):
        async with subscribed_to_work() as (server, nc, peer, nursery, sub):
            nursery.start_soon(drain_into, nc, drained)
            await peer.read_until("PING")
            await peer.close()
            await refused_then_publish_in_outage(nc)
            nursery.start_soon(serve_until_closed, server, commands)
            await wait_for(lambda: bool(drained))
            assert nc.status is Status.CLOSED
    assert drained == ["drained"]
    assert not sub.active
    assert "PUB kept 23 published in the outage" in commands
    assert not any(line.startswith("SUB ") for line in commands)


async def test_drop_while_drain_waits_for_readers_keeps_draining() -> None:
    """A drop while the drain waits for a reader: the drain resumes after the reconnect."""
    commands: list[str] = []
    drained: list[object] = []
    with trio.fail_after(5):
        async with subscribed_to_work() as (server, nc, peer, nursery, sub):
            nursery.start_soon(drain_into, nc, drained)
            await peer.read_until("PING")
            await peer.send(msg_frame("work", 1, b"unread") + b"PONG\r\n")
            await wait_for(lambda: not sub.active)
            await peer.close()
            await refused_then_publish_in_outage(nc)
            assert (await sub.next_msg()).data == b"unread"
            nursery.start_soon(serve_until_closed, server, commands)
            await wait_for(lambda: bool(drained))
            assert nc.status is Status.CLOSED
    assert drained == ["drained"]
    assert "PUB kept 23 published in the outage" in commands


async def test_draining_client_refuses_subscriptions_after_the_reconnect() -> None:
    """Once reconnected mid-drain the status is DRAINING again and subscribing stays refused."""
    drained: list[object] = []
    with trio.fail_after(5):
        async with subscribed_to_work() as (server, nc, peer, nursery, sub):
            await peer.send(msg_frame("work", 1, b"unread"))
            await wait_for(lambda: sub.statistics().pending_msgs == 1)
            nursery.start_soon(drain_into, nc, drained)
            await peer.read_until("PING")
            await peer.close()
            second = await server.accept()
            await second.handshake()
            await wait_for(lambda: nc.status is not Status.RECONNECTING)
            assert nc.status is Status.DRAINING
            with pytest.raises(ConnectionClosed, match=DRAINING):
                await nc.subscribe("late")
            await second.read_until("PING")
            await second.send(b"PONG\r\n")
            assert (await sub.next_msg()).data == b"unread"
            await second.read_until("PING")
            await second.send(b"PONG\r\n")
            await wait_for(lambda: bool(drained))
    assert drained == ["drained"]


async def test_drain_called_while_reconnecting_waits_for_buffered_messages() -> None:
    """``drain()`` started in an outage still returns only once each buffer has been read."""
    commands: list[str] = []
    drained: list[object] = []
    with trio.fail_after(5):
        async with subscribed_to_work() as (server, nc, peer, nursery, sub):
            await peer.send(msg_frame("work", 1, b"unread"))
            await wait_for(lambda: sub.statistics().pending_msgs == 1)
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            nursery.start_soon(drain_into, nc, drained)
            nursery.start_soon(serve_until_closed, server, commands)
            await wait_for(lambda: "PING" in commands)
            await trio.testing.wait_all_tasks_blocked(0.05)
            assert drained == []
            assert commands.count("PING") == 1
            assert (await sub.next_msg()).data == b"unread"
            await wait_for(lambda: bool(drained))
    assert drained == ["drained"]
