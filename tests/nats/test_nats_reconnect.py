"""Reconnecting to a real server that stops, restarts or is killed."""

from __future__ import annotations

import pytest
import trio
from nats_fake import wait_for

from trouper.nats import (
    ClientEvent,
    Closed,
    ConnectError,
    ConnectionClosed,
    ConnectionLost,
    Disconnected,
    OutboundBufferFull,
    Reconnected,
    Status,
    connect,
)
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

FAST: dict[str, object] = {
    "reconnect_wait": 0.02,
    "reconnect_max_wait": 0.1,
    "reconnect_jitter": 0.01,
    "max_reconnect_attempts": 500,
}


def count(events: list[ClientEvent], kind: type) -> int:
    return sum(isinstance(event, kind) for event in events)


async def test_restart_reconnects_and_resubscribes(own_server: NatsServer) -> None:
    """After a restart the client reconnects and its subscription receives again."""
    events: list[ClientEvent] = []
    with trio.fail_after(20):
        async with connect(own_server.url, on_event=events.append, **FAST) as nc:  # type: ignore[arg-type]
            sub = await nc.subscribe("again")
            await nc.flush()
            await own_server.arestart()
            await wait_for(lambda: count(events, Reconnected) == 1)
            await nc.publish("again", b"back")
            assert (await sub.next_msg()).data == b"back"
            assert nc.statistics().reconnects == 1
    assert count(events, Disconnected) == 1


async def test_outage_publishes_are_flushed_after_reconnect(own_server: NatsServer) -> None:
    """Publishes made while the server is down are delivered once it is back."""
    events: list[ClientEvent] = []
    with trio.fail_after(20):
        async with connect(own_server.url, on_event=events.append, **FAST) as nc:  # type: ignore[arg-type]
            sub = await nc.subscribe("held", max_msgs=3)
            await nc.flush()
            await own_server.astop()
            await wait_for(lambda: count(events, Disconnected) == 1)
            assert nc.status is Status.RECONNECTING
            for n in range(3):
                await nc.publish("held", str(n).encode())
            assert nc.statistics().buffered_bytes > 0
            await own_server.astart()
            assert [msg.data async for msg in sub] == [b"0", b"1", b"2"]


async def test_publishes_beyond_the_outage_buffer_raise(own_server: NatsServer) -> None:
    """While disconnected, a publish that does not fit the bounded buffer raises."""
    events: list[ClientEvent] = []
    # Leaving the block while reconnecting says the publish that fitted was not sent.
    lost = r"^the client closed while reconnecting: 1 buffered publish was not sent$"
    with (
        trio.fail_after(20),
        pytest.RaisesGroup(pytest.RaisesExc(ConnectionLost, match=lost), flatten_subgroups=True),
    ):
        async with connect(
            own_server.url,
            on_event=events.append,
            reconnect_buffer_size=100,
            **FAST,  # type: ignore[arg-type]
        ) as nc:
            await own_server.astop()
            await wait_for(lambda: count(events, Disconnected) == 1)
            await nc.publish("b", b"x" * 40)
            with pytest.raises(OutboundBufferFull, match="bound of 100 bytes"):
                await nc.publish("b", b"x" * 60)
            assert nc.statistics().out_msgs == 1


async def test_flush_waits_for_the_reconnect(own_server: NatsServer) -> None:
    """flush() during an outage returns once the server is back and has answered."""
    events: list[ClientEvent] = []
    with trio.fail_after(20):
        async with connect(own_server.url, on_event=events.append, **FAST) as nc:  # type: ignore[arg-type]
            await own_server.astop()
            await wait_for(lambda: count(events, Disconnected) == 1)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(own_server.astart)
                await nc.flush()
            assert nc.status is Status.CONNECTED


async def test_kill_is_survived(own_server: NatsServer) -> None:
    """A server killed with SIGKILL and started again is reconnected to."""
    events: list[ClientEvent] = []
    with trio.fail_after(20):
        async with connect(own_server.url, on_event=events.append, **FAST) as nc:  # type: ignore[arg-type]
            await own_server.akill()
            await wait_for(lambda: count(events, Disconnected) == 1)
            await own_server.astart()
            await wait_for(lambda: count(events, Reconnected) == 1)
            await nc.flush()


async def test_restart_in_the_middle_of_a_stream_loses_some_and_hangs_nothing(
    own_server: NatsServer,
) -> None:
    """A stream of core messages across a restart: some are lost (counted), none hang."""
    events: list[ClientEvent] = []
    received: list[int] = []
    total = 3000
    with trio.fail_after(30):
        async with connect(own_server.url, on_event=events.append, **FAST) as nc:  # type: ignore[arg-type]
            await nc.subscribe("stream", callback=lambda m: received.append(int(m.data)))
            await nc.flush()
            async with trio.open_nursery() as nursery:

                async def restart_midway() -> None:
                    await wait_for(lambda: len(received) >= total // 3)
                    await own_server.arestart()

                nursery.start_soon(restart_midway)
                for n in range(total):
                    await nc.publish("stream", str(n).encode())
                    if n % 100 == 0:
                        await trio.sleep(0.005)
            await wait_for(lambda: count(events, Reconnected) == 1)
            await nc.flush()
            await wait_for(lambda: bool(received) and received[-1] == total - 1)
    lost = total - len(received)
    assert received == sorted(received)
    assert 0 <= lost < total
    assert len(set(received)) == len(received)


async def test_client_gives_up_after_max_reconnect_attempts(own_server: NatsServer) -> None:
    """With the server gone for good, the client closes with the reason, and calls fail."""
    events: list[ClientEvent] = []
    with trio.fail_after(20):
        async with connect(
            own_server.url,
            on_event=events.append,
            reconnect_wait=0.01,
            reconnect_max_wait=0.02,
            max_reconnect_attempts=3,
        ) as nc:
            sub = await nc.subscribe("gone")
            await own_server.astop()
            await wait_for(lambda: nc.status is Status.CLOSED)
            with pytest.raises(ConnectionClosed, match=r"^the client is closed: "):
                await nc.publish("gone", b"")
            with pytest.raises(ConnectionClosed):
                await sub.next_msg()
    closed = [event for event in events if isinstance(event, Closed)]
    assert len(closed) == 1
    assert isinstance(closed[0], Closed)
    assert closed[0].reason is not None


async def test_without_reconnect_a_drop_closes_the_client(own_server: NatsServer) -> None:
    """allow_reconnect=False: the first drop closes the client."""
    with trio.fail_after(20):
        async with connect(own_server.url, allow_reconnect=False) as nc:
            await own_server.astop()
            await wait_for(lambda: nc.status is Status.CLOSED)


async def test_connect_to_nothing_raises_connect_error() -> None:
    """No server listening: connect() raises ConnectError naming each address."""
    server = NatsServer(jetstream=False)
    server.close()
    with trio.fail_after(10), pytest.raises(ConnectError, match=f"127.0.0.1:{server.port}"):
        async with connect(server.url):
            pass
