"""Review: a connection that drops, or a server that is away, at awkward moments of a store.

A tell whose deadline passes during an outage leaves then (its message is
stored once the server is back), opening a mailbox or loading an actor's
state waits a dropped connection out instead of failing the store (and
with it the runtime).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
import pytest
import trio
import trio.testing
from js_support import Job, JobSink, eventually, store_for

import trouper
from relay_support import Relay
from trouper.durable import Durable, JetStreamStore, Received, durable_ref
from trouper.nats import Client, OutboundBufferFull, Status, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def fill_the_outage_buffer(client: Client) -> None:
    """Publish junk while ``client`` reconnects until its outage buffer takes no more."""
    assert client.status is Status.RECONNECTING
    for size in (1024, 32, 0):  # down to the smallest publish: no room for any other
        while True:
            try:
                client.publish_nowait("review12.junk", b"x" * size)
            except OutboundBufferFull:
                break


def small_buffer_client(
    url: str, *, reconnect_max_wait: float = 0.2
) -> contextlib.AbstractAsyncContextManager[Client]:
    """A client of ``url`` that reconnects quickly, its outage buffer 64 KiB (soon full)."""
    return connect(
        url,
        reconnect_wait=0.1,
        reconnect_max_wait=reconnect_max_wait,
        reconnect_buffer_size=64 * 1024,
    )


@contextlib.asynccontextmanager
async def relayed_runtime(
    js_server: NatsServer, prefix: str, *, small_buffer: bool = False
) -> AsyncIterator[tuple[Relay, trio.Nursery, Client, trouper.Runtime]]:
    """A runtime whose store's client reaches ``js_server`` through a ``Relay``.

    Yields the relay, a nursery for the test's tasks (cancelled at the end),
    the client (``small_buffer``: ``small_buffer_client``'s) and the runtime.
    """
    relay = Relay(js_server.url)
    async with trio.open_nursery() as nursery:
        url = f"nats://127.0.0.1:{await nursery.start(relay.serve)}"
        client = (
            small_buffer_client(url, reconnect_max_wait=0.1)
            if small_buffer
            else connect(url, reconnect_wait=0.1, reconnect_max_wait=0.2)
        )
        async with (
            client as connected,
            trouper.open_runtime(store=client_store(connected, prefix)) as rt,
        ):
            yield relay, nursery, connected, rt
        nursery.cancel_scope.cancel()


def client_store(client: Client, prefix: str) -> JetStreamStore:
    """A store on the caller's ``client``, with test-sized timings."""
    return JetStreamStore(
        client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
    )


@trouper.message("js-review12.tally")
@attrs.frozen
class Tally:
    """A durable actor's state: the jobs it saw."""

    seen: tuple[int, ...] = ()


class Counter(trouper.Actor):
    """A durable actor with state: records each job's number in it."""

    state: Tally

    def __init__(self, got: list[int]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.state = Tally((*self.state.seen, message.n))
        self.got.append(message.n)


async def spawn_across_a_dropped_request(
    js_server: NatsServer, prefix: str, marker: bytes, actor: type[JobSink | Counter]
) -> None:
    """Spawn ``actor`` durably, its request holding ``marker`` lost with the connection; tell it.

    The spawn ends once the connection is back, the store not failed, and
    the actor handles a job told then.
    """
    got: list[int] = []
    async with relayed_runtime(js_server, prefix) as (relay, nursery, _client, rt):
        relay.swallow_from(marker)
        spawned = trio.Event()

        async def spawn() -> None:
            await rt.spawn(actor, got, name="jobs", mailbox=Durable())
            spawned.set()

        nursery.start_soon(spawn)
        await relay.swallowed.wait()
        relay.cut()
        relay.heal()
        with trio.fail_after(10):
            await spawned.wait()
        await durable_ref(rt, "jobs").tell(Job(1))
        await eventually(lambda: got == [1])
        assert not rt.store.statistics().failed


async def test_a_tell_cancelled_while_the_server_is_away_leaves_and_is_stored_after(
    own_js_server: NatsServer, prefix: str
) -> None:
    """The server stopped: a tell whose deadline passes leaves then, not when the server is back.

    Its publish waited in the client's outage buffer, and the cancelled wait
    for its answer (Abort.FAILED: "one round trip") lasted as long as the
    outage, up to the client's last reconnect attempt (half an hour with the
    defaults). Its message is stored once the server is back, as a staged one.
    """
    got: list[int] = []
    async with (
        connect(own_js_server.url, reconnect_wait=0.1, reconnect_max_wait=0.2) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        jobs = durable_ref(rt, "jobs")
        await jobs.tell(Job(0))
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.RECONNECTING)
        with trio.fail_after(10):  # the outage lasts until the tell has left
            with trio.move_on_after(0.2) as scope:
                await jobs.tell(Job(1))
        assert scope.cancelled_caught
        await own_js_server.astart()
        await eventually(lambda: got == [0, 1])


async def test_a_tell_cancelled_whose_answer_is_lost_with_its_connection_leaves(
    js_server: NatsServer, prefix: str
) -> None:
    """A cancelled tell waits for its publish's answer; lost with the connection, it leaves.

    The publish is sent again after the reconnect: the cancelled teller
    waited for that, however long the outage. It is stored once.
    """
    got: list[int] = []
    async with relayed_runtime(js_server, prefix) as (relay, nursery, _client, rt):
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        jobs = durable_ref(rt, "jobs")
        left = trio.Event()

        async def tell() -> None:
            with trio.CancelScope() as scope:
                cancel.append(scope)
                await jobs.tell(Job(1))
            left.set()

        cancel: list[trio.CancelScope] = []
        relay.swallow_from(f"{prefix}.mailbox.jobs ".encode())
        nursery.start_soon(tell)
        await relay.swallowed.wait()
        cancel[0].cancel()  # while connected: it waits for the answer
        await trio.testing.wait_all_tasks_blocked()
        assert not left.is_set()
        relay.cut()
        with trio.fail_after(10):  # the relay refuses until the tell has left
            await left.wait()
        relay.heal()
        await eventually(lambda: got == [1])
        await rt.store.flush()
        assert got == [1]


async def test_a_connection_dropped_while_a_mailbox_opens_fails_neither_it_nor_the_runtime(
    js_server: NatsServer, prefix: str
) -> None:
    """The connection drops with the mailbox's stream request out: it is asked again.

    The request's ConnectionLost was taken for the server refusing the
    mailbox: the store failed ("it accepts no more writes") and the runtime
    stopped with it, for a connection that came back a moment later.
    """
    await spawn_across_a_dropped_request(js_server, prefix, b"STREAM.CREATE", JobSink)


async def test_a_connection_dropped_while_a_state_loads_does_not_fail_the_start(
    js_server: NatsServer, prefix: str
) -> None:
    """The connection drops with the read of an actor's saved state out: it is read again.

    The read's ConnectionLost left the actor's start: its spawn failed for a
    connection that came back a moment later.
    """
    await spawn_across_a_dropped_request(js_server, prefix, b"STREAM.MSG.GET", Counter)


async def test_a_tell_the_outage_buffer_has_no_room_for_waits_for_the_server(
    own_js_server: NatsServer, prefix: str
) -> None:
    """The client's outage buffer is full: a tell waits through the outage, then is stored.

    It was refused as for good (``StoreRefused``: "nothing of it was stored,
    and the store goes on", logged as an error), its ``tell_nowait`` twin a
    dead letter, for a server that was only restarting.
    """
    got: list[int] = []
    async with (
        small_buffer_client(own_js_server.url) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.RECONNECTING)
        fill_the_outage_buffer(client)
        told = trio.Event()
        async with trio.open_nursery() as nursery:

            async def tell() -> None:
                await durable_ref(rt, "jobs").tell(Job(1))
                told.set()

            nursery.start_soon(tell)
            await trio.testing.wait_all_tasks_blocked()
            assert not told.is_set()
            await own_js_server.astart()
        await eventually(lambda: got == [1])


async def test_a_mailbox_opened_while_the_outage_buffer_is_full_opens_after_the_outage(
    own_js_server: NatsServer, prefix: str
) -> None:
    """A durable actor spawned while the outage buffer is full starts once the server is back.

    Its stream request, refused by the client for room, was taken for the
    server refusing the mailbox: the store failed and the runtime with it.
    """
    got: list[int] = []
    async with (
        small_buffer_client(own_js_server.url) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        await own_js_server.astop()
        await eventually(lambda: client.status is Status.RECONNECTING)
        fill_the_outage_buffer(client)
        async with trio.open_nursery() as nursery:

            async def spawn() -> None:
                await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())

            nursery.start_soon(spawn)
            await trio.testing.wait_all_tasks_blocked()
            await own_js_server.astart()
        await durable_ref(rt, "jobs").tell(Job(1))
        await eventually(lambda: got == [1])
        assert not rt.store.statistics().failed


async def test_a_feed_pulled_while_the_outage_buffer_is_full_pulls_after_the_outage(
    own_js_server: NatsServer, prefix: str
) -> None:
    """``Feed.pull`` while the outage buffer is full does not raise: it pulls once back.

    It raised ``OutboundBufferFull``, which ended the mailbox's feed: reopened
    a second later, with the leases it held dropped, so the handlers still
    running lost their ``+WPI`` and their messages went to other hosts.
    """
    came: list[Received] = []
    async with (
        small_buffer_client(own_js_server.url) as client,
        trouper.open_runtime(store=client_store(client, prefix)) as rt,
    ):
        store = rt.store
        assert isinstance(store, JetStreamStore)
        feed = await store.open_feed("fed", Durable(), came.append)
        try:
            await durable_ref(rt, "fed").tell(Job(1))
            await own_js_server.astop()
            await eventually(lambda: client.status is Status.RECONNECTING)
            fill_the_outage_buffer(client)
            feed.pull(1)
            await own_js_server.astart()
            with trio.fail_after(10):
                while not came:
                    await feed.wait()
            assert [received.type_name for received in came] == ["js-test.job"]
        finally:
            feed.close()


async def test_a_tell_whose_stream_is_being_made_across_a_full_outage_buffer_is_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """A tell to a mailbox nobody opened, whose stream is made while the outage buffer is full.

    The stream's request, refused by the client for room, left the store's
    retrier with ``OutboundBufferFull``: the store's tasks were cancelled and
    the runtime failed with it.
    """
    got: list[int] = []
    async with relayed_runtime(js_server, prefix, small_buffer=True) as (
        relay,
        nursery,
        client,
        rt,
    ):
        relay.swallow_from(b"STREAM.INFO")  # the retrier's look for the missing stream
        told = trio.Event()

        async def tell() -> None:
            await durable_ref(rt, "later").tell(Job(1))
            told.set()

        nursery.start_soon(tell)
        await relay.swallowed.wait()
        relay.cut()
        await eventually(lambda: client.status is Status.RECONNECTING)
        fill_the_outage_buffer(client)
        # Reconnect attempts every 0.1 s: the retrier looks again meanwhile (0.2 s).
        await eventually(lambda: relay.refused >= 6)
        relay.heal()
        with trio.fail_after(10):
            await told.wait()
        await rt.spawn(JobSink, got, name="later", mailbox=Durable())
        await eventually(lambda: got == [1])


class Gated(trouper.Actor):
    """Records each job once its handler has started and once ``gate`` let it end."""

    def __init__(self, got: list[str], gate: trio.Event) -> None:
        self.got = got
        self.gate = gate

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.got.append(f"start {message.n}")
        await self.gate.wait()
        self.got.append(f"end {message.n}")


async def test_a_runtime_left_while_its_server_is_away_does_not_raise_for_its_ack(
    own_js_server: NatsServer, prefix: str
) -> None:
    """An ack left in the outage buffer at the end is redelivery's business, not an error.

    The store closed the connection it made, whose close raised
    ``ConnectionLost`` ("2 buffered publishes were not sent": the ack and a
    ``+WPI``) out of ``open_runtime``'s block, as an exception group. The
    message is delivered again once the server is back, as for any lost ack.
    """
    got: list[str] = []
    gate = trio.Event()
    store = store_for(own_js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn(Gated, got, gate, name="jobs", mailbox=Durable())
        await durable_ref(rt, "jobs").tell(Job(1))
        await eventually(lambda: got == ["start 1"])
        await own_js_server.astop()
        await eventually(lambda: store.client.status is Status.RECONNECTING)
        gate.set()
        await eventually(lambda: got == ["start 1", "end 1"])
    await own_js_server.astart()
    async with trouper.open_runtime(store=store_for(own_js_server.url, prefix)) as rt:
        await rt.spawn(Gated, got, gate, name="jobs", mailbox=Durable())
        await eventually(lambda: got[2:] == ["start 1", "end 1"])
