"""Review: a store whose client closes for good fails at once, whether or not it hosts a mailbox."""

from __future__ import annotations

import json
import socket

import pytest
import trio
import trio.testing
from js_support import Job, eventually

import trouper
from trouper.durable import Durable, JetStreamStore, durable_ref
from trouper.errors import StoreFailed
from trouper.nats import NoResponders, Status, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

CLOSED = "the connection closed: the client is closed"


def client_store(client: trouper.nats.Client, prefix: str) -> JetStreamStore:
    """A store on the caller's ``client``, with test-sized timings."""
    return JetStreamStore(
        client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
    )


async def test_a_store_hosting_nothing_fails_when_its_client_gives_up(
    own_js_server: NatsServer, prefix: str
) -> None:
    """The client gave up reconnecting: the store fails then, not at the next write.

    With no durable actor hosted, nothing looked at the client: the store
    reported itself healthy (``statistics().failed`` False) and each tell
    raised "a publish was refused", as if one message had been refused.
    """
    async with (
        connect(own_js_server.url, allow_reconnect=False) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await durable_ref(rt, "jobs").tell(Job(1))
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.CLOSED)
        await eventually(lambda: rt.store.statistics().failed)
        with pytest.raises(StoreFailed, match=r"the connection closed: the client is closed"):
            await durable_ref(rt, "jobs").tell(Job(2))


async def test_a_store_hosting_nothing_fails_when_its_owner_closes_its_client(
    js_server: NatsServer, prefix: str
) -> None:
    """The caller closed the client the store writes through: the store fails at once."""
    async with (
        connect(js_server.url) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await durable_ref(rt, "jobs").tell(Job(1))
        await client.close()
        await eventually(lambda: rt.store.statistics().failed)
        with pytest.raises(
            StoreFailed, match=r"closed: the client is closed; it accepts no more writes$"
        ):
            await durable_ref(rt, "jobs").tell(Job(2))


def monitored_server() -> tuple[NatsServer, int]:
    """A JetStream server (not started) with its HTTP monitoring on a free port, and that port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return NatsServer(extra_args=["-m", str(port)]), port


async def subscriptions_of(port: int, name: str) -> int:
    """How many subscriptions the server counts for the connection called ``name`` (``/connz``)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"GET /connz?subs=1 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        body = b""
        while chunk := await stream.receive_some():
            body += chunk
    connz = json.loads(body.split(b"\r\n\r\n", 1)[1])
    (found,) = [c for c in connz["connections"] if c.get("name") == name]
    return int(found.get("subscriptions", 0))


async def test_a_closed_store_leaves_no_subscription_on_the_callers_client(
    prefix: str,
) -> None:
    """The store's watch on the caller's client ends with the store; the client stays open."""
    server, port = monitored_server()
    with server:
        async with connect(server.url, name="caller") as client:
            with pytest.raises(NoResponders):  # the client's own reply subscription, made now
                await client.request("nobody.answers", b"")
            before = await subscriptions_of(port, "caller")
            async with trouper.open_runtime(store=client_store(client, prefix)) as rt:
                await durable_ref(rt, "jobs").tell(Job(1))
            await client.flush()
            assert client.status is Status.CONNECTED
            assert await subscriptions_of(port, "caller") == before


async def test_a_tell_waiting_for_room_when_the_client_closes_gets_the_stores_failure(
    js_server: NatsServer, prefix: str
) -> None:
    """A tell waiting in the store when it fails gets its failure as it is, not wrapped in another.

    It got "a publish was refused: store ... failed: the connection closed:
    ...; it accepts no more writes; it accepts no more writes": a refusal
    that never happened, around the real reason.
    """
    errors: list[BaseException] = []

    async def tell_waiting(ref: trouper.ActorRef[object], task_status: trio.TaskStatus) -> None:
        task_status.started()
        try:
            await ref.tell(Job(2))
        except StoreFailed as error:
            errors.append(error)

    async with (
        connect(js_server.url) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        ref = durable_ref(rt, "jobs", options=Durable(capacity=1))
        await ref.tell(Job(1))
        async with trio.open_nursery() as nursery:
            await nursery.start(tell_waiting, ref)
            # Its publish is sent (then refused for room and waiting to be sent again,
            # or still in flight: the store's failure reaches it either way).
            await trio.testing.wait_all_tasks_blocked()
            await client.flush()
            await client.close()
    (error,) = errors
    assert str(error) == f"store '{prefix} on a client' failed: {CLOSED}; it accepts no more writes"


async def test_a_write_that_finds_the_client_closed_fails_the_store(
    js_server: NatsServer, prefix: str
) -> None:
    """A tell right after its owner closed the client: the store's failure, not one refusal.

    The publish found the client closed before the store's watch ran: the
    tell raised "a publish was refused: the client is closed" and the store
    stayed open until the watch failed it.
    """
    async with (
        connect(js_server.url) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await durable_ref(rt, "jobs").tell(Job(1))
        await client.close()
        with pytest.raises(StoreFailed) as raised:
            await durable_ref(rt, "jobs").tell(Job(2))
        assert rt.store.statistics().failed
    assert str(raised.value) == (
        f"store '{prefix} on a client' failed: {CLOSED}; it accepts no more writes"
    )


async def test_a_flush_waiting_for_a_reconnect_that_never_comes_raises_the_stores_failure(
    own_js_server: NatsServer, prefix: str
) -> None:
    """A flush parked in an outage whose client then gives up raises ``StoreFailed``.

    It raised the client's ``ConnectionClosed``, which ``except StoreFailed``
    (what every other store call raises once the store failed) let through.
    """
    async with (
        connect(own_js_server.url, max_reconnect_attempts=2, reconnect_wait=0.2) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await durable_ref(rt, "jobs").tell(Job(1))
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.RECONNECTING)
        with pytest.raises(StoreFailed, match=r"the connection closed: "), trio.fail_after(10):
            await rt.store.flush()
        assert rt.store.statistics().failed
