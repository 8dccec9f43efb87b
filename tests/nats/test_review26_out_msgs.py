"""Review 26: ``out_msgs`` and ``out_bytes`` count no publish the client dropped unsent.

Both were counted when a publish was buffered and never taken back, so a
publish dropped at a reconnect for being over the new server's
``max_payload`` (review 25), one left in the outage buffer when the client
closed or gave up reconnecting, or one the socket had not taken whole when
the connection dropped during ``close()`` still counted as published. Each
is now taken back when the client drops it (``out_bytes`` by its payload,
headers not counted, as when it was buffered).
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import close_into, connected, fake_server, wait_for

from trouper.nats import (
    ConnectionLost,
    OutboundBufferFull,
    Status,
)

pytestmark = pytest.mark.real_clock


async def test_publishes_dropped_at_a_reconnect_are_not_counted() -> None:
    """Over the new max_payload, a PUB and an HPUB are dropped: only the small two count."""
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.01, reconnect_jitter=0.0) as (nc, peer),
        ):
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("big", b"x" * 2000)
            await nc.publish("big.headers", b"y" * 10, headers={"H": "v" * 1500})
            await nc.publish("small", b"s")
            await nc.publish("small.headers", b"tt", headers={"H": "v"})
            peer = await server.accept()
            await peer.handshake(max_payload=1024)
            assert (await peer.read_command())[0] == "PUB small 1"
            assert (await peer.read_command())[0].startswith("HPUB small.headers ")
            stats = nc.statistics()
            await nc.close()
    assert (stats.out_msgs, stats.out_bytes) == (2, 3)


async def test_the_outage_buffer_dropped_by_close_is_not_counted() -> None:
    """Two publishes made while reconnecting, then close(): only the one written counts."""
    with trio.fail_after(10):
        async with fake_server() as server, connected(server) as (nc, peer):
            await nc.publish("sent", b"abc")
            assert (await peer.read_command()) == ("PUB sent 3", b"abc")
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("lost", b"12345")
            await nc.publish("lost", b"67", headers={"H": "v"})
            with pytest.raises(ConnectionLost, match="2 buffered publishes were not sent"):
                await nc.close()
            stats = nc.statistics()
    assert (stats.out_msgs, stats.out_bytes) == (1, 3)


async def test_the_outage_buffer_dropped_when_reconnecting_fails_is_not_counted() -> None:
    """The client gives up reconnecting: what its outage buffer held does not count."""
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(
                server, max_reconnect_attempts=1, reconnect_wait=0.01, reconnect_jitter=0.0
            ) as (nc, peer),
        ):
            await nc.publish("sent", b"abc")
            assert (await peer.read_command()) == ("PUB sent 3", b"abc")
            await server.close()
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("lost", b"12345")
            await wait_for(lambda: nc.status is Status.CLOSED)
            stats = nc.statistics()
    assert (stats.out_msgs, stats.out_bytes) == (1, 3)


async def test_publishes_not_written_when_the_connection_drops_during_close_are_not_counted() -> (
    None
):
    """close() waits for a full write buffer; the server goes: what was left does not count."""
    outcome: list[object] = []
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            trio.open_nursery() as nursery,
            connected(server) as (nc, peer),
        ):
            published = 0
            while True:  # the peer reads nothing: the socket fills, then the buffer
                try:
                    nc.publish_nowait("fill", b"x" * 2000)
                except OutboundBufferFull:
                    break
                published += 1
            nursery.start_soon(close_into, nc, outcome)
            await wait_for(lambda: nc.status is Status.CLOSED)
            await peer.close()
            await wait_for(lambda: bool(outcome))
            stats = nc.statistics()
    assert isinstance(outcome[0], ConnectionLost)
    # Some were never written; those the socket took count, whole ones only.
    assert 0 <= stats.out_msgs < published
    assert stats.out_bytes == 2000 * stats.out_msgs


async def test_publishes_left_by_a_cancelled_close_are_not_counted() -> None:
    """close() is cancelled while the write buffer is full: what it did not write does not count."""
    with trio.fail_after(10):
        async with fake_server() as server:
            async with connected(server) as (nc, _):
                published = 0
                while True:  # the peer reads nothing: the socket fills, then the buffer
                    try:
                        nc.publish_nowait("fill", b"x" * 2000)
                    except OutboundBufferFull:
                        break
                    published += 1
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await nc.close()
            stats = nc.statistics()  # (the client's task is over: nothing more is written)
    assert 0 <= stats.out_msgs < published
    assert stats.out_bytes == 2000 * stats.out_msgs
