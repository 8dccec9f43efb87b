"""Review 7: a drain() called while another runs waits for it and shares its outcome."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from nats_fake import connected, drain_into, fake_server, wait_for

from trouper.nats import Client, ConnectionClosed, Status

pytestmark = pytest.mark.real_clock


async def test_second_drain_returns_when_the_first_has_finished() -> None:
    """The second call neither returns before the drain's last PONG nor starts another drain."""
    first: list[object] = []
    second: list[object] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            await nc.subscribe("work")
            nursery.start_soon(drain_into, nc, first)
            await wait_for(lambda: nc.status is Status.DRAINING)
            nursery.start_soon(drain_into, nc, second)
            await peer.read_until("PING")
            await trio.testing.wait_all_tasks_blocked()
            assert (first, second) == ([], [])
            await peer.send(b"PONG\r\n")
            await peer.read_until("PING")
            await trio.testing.wait_all_tasks_blocked()
            assert (first, second) == ([], [])
            await peer.send(b"PONG\r\n")
            await wait_for(lambda: bool(first and second))
    assert (first, second) == (["drained"], ["drained"])


async def test_second_drain_raises_what_ended_the_first() -> None:
    """A drain that fails (no server came back) fails both calls, with the same error."""
    first: list[object] = []
    second: list[object] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, max_reconnect_attempts=1, reconnect_wait=0.2) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            await server.close()
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            await nc.publish("lost", b"never sent")
            nursery.start_soon(drain_into, nc, first)
            nursery.start_soon(drain_into, nc, second)
            await wait_for(lambda: bool(first and second))
    assert [type(outcome) for outcome in (*first, *second)] == [ConnectionClosed] * 2
    assert str(first[0]) == str(second[0])
    assert str(first[0]).startswith("the client is closed: ")


async def cancellable_drain(
    nc: Client, *, task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run ``drain()`` in a cancel scope handed to the caller."""
    with trio.CancelScope() as scope:
        task_status.started(scope)
        await nc.drain()


async def test_second_drain_learns_that_the_first_was_cancelled() -> None:
    """The first call cancelled closes the client at once; the second raises ConnectionClosed."""
    second: list[object] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            first = await nursery.start(cancellable_drain, nc)
            await wait_for(lambda: nc.status is Status.DRAINING)
            nursery.start_soon(drain_into, nc, second)
            await peer.read_until("PING")
            await trio.testing.wait_all_tasks_blocked()
            first.cancel()
            await wait_for(lambda: bool(second))
            assert nc.status is Status.CLOSED
    assert len(second) == 1
    assert isinstance(second[0], ConnectionClosed)
    assert str(second[0]) == "the drain was stopped by Cancelled: the client closed at once"


async def test_second_drain_cancelled_closes_the_client_at_once() -> None:
    """A waiting call keeps drain()'s rule: cancelled, the client closes at once."""
    first: list[object] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(drain_into, nc, first)
            await wait_for(lambda: nc.status is Status.DRAINING)
            second = await nursery.start(cancellable_drain, nc)
            await peer.read_until("PING")
            await trio.testing.wait_all_tasks_blocked()
            second.cancel()
            await wait_for(lambda: bool(first))
            assert nc.status is Status.CLOSED
    assert len(first) == 1
    assert isinstance(first[0], ConnectionClosed)
    assert str(first[0]) == "the client is closed"
