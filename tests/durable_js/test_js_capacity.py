"""Capacity on JetStream: the stream's max_msgs bounds a durable mailbox for every producer."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from js_support import Done, Job, Sink, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.errors import MailboxFull
from trouper.nats import JetStreamError
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Recorder(trouper.Actor):
    """Records the jobs it handles."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.seen.append(message.n)


async def test_tell_waits_while_the_durable_mailbox_is_full(
    js_server: NatsServer, prefix: str
) -> None:
    """Two stored of capacity 2: a third tell returns only once a host has made room."""
    seen: list[int] = []
    told: list[int] = []
    options = Durable(capacity=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "jobs", options=options)  # makes the stream with its capacity
        await ref.tell(Job(0))
        await ref.tell(Job(1))

        async def third() -> None:
            await ref.tell(Job(2))
            told.append(2)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(third)
            await trio.sleep(0.5)
            assert told == []
            (stats,) = await rt.store.mailbox_statistics()
            assert stats.depth == 2
            await rt.spawn(Recorder, seen, name="jobs", mailbox=options)
        await eventually(lambda: len(seen) == 3)
    assert told == [2]
    assert seen == [0, 1, 2]


class Holder(trouper.Actor):
    """Sets ``started`` when a job begins, finishes it once ``release`` is set.

    ``second`` is set once two jobs are done.
    """

    def __init__(
        self, started: trio.Event, release: trio.Event, second: trio.Event, seen: list[int]
    ) -> None:
        self.started = started
        self.release = release
        self.second = second
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.started.set()
        await self.release.wait()
        self.seen.append(message.n)
        if len(self.seen) == 2:
            self.second.set()


async def test_a_tell_waiting_for_room_is_woken_by_an_ack_of_this_process(
    js_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """A host here finishes a message of the full mailbox: the waiting tell is stored at once.

    Virtual time stands still unless every task has waited 3 s of real time
    (no server heartbeat comes that often here): a tell that waited for its
    retry timer (50 ms) could not return without such a jump.
    """
    mock_clock.autojump_threshold = 3.0
    started, release, second = trio.Event(), trio.Event(), trio.Event()
    seen: list[int] = []
    options = Durable(capacity=1)
    store = store_for(js_server.url, prefix, poll_expires=60.0, heartbeat=20.0)
    async with trouper.open_runtime(store=store) as rt:
        ref = await rt.spawn(Holder, started, release, second, seen, name="jobs", mailbox=options)
        await ref.tell(Job(0))
        await started.wait()  # Job 0 is held, not acked: the stream is full
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ref.tell, Job(1))
            await trio.testing.wait_all_tasks_blocked()  # its publish is out
            # Answered after the tell's publish (one connection, one stream, in order):
            # the tell has been refused for room once this returns.
            with pytest.raises(JetStreamError, match=r"maximum messages"):
                await store.client.jetstream().publish(store.subject("jobs"), b"probe")
            release.set()
        waited = trio.current_time() - start
        await second.wait()
    assert waited == 0
    assert seen == [0, 1]


async def test_a_tell_waiting_for_room_is_cancelled_by_its_deadline(
    js_server: NatsServer, prefix: str
) -> None:
    """A tell waiting for room in a full mailbox obeys its cancel scope, as in memory."""
    seen: list[int] = []
    options = Durable(capacity=1)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "jobs", options=options)
        await ref.tell(Job(0))
        with trio.fail_after(5), trio.move_on_after(0.3) as scope:
            await ref.tell(Job(1))
        (stats,) = await rt.store.mailbox_statistics()
        # Room: the cancelled tell's publish (which may still be stored) would hold the
        # runtime's close for its 5 s.
        await rt.spawn(Recorder, seen, name="jobs", mailbox=options)
        await eventually(lambda: seen)
    assert scope.cancelled_caught
    assert stats.depth == 1


async def test_tell_nowait_to_a_full_stream_is_stored_once_there_is_room(
    js_server: NatsServer, prefix: str
) -> None:
    """A process cannot see the stream's count: tell_nowait stages, flush waits for room."""
    seen: list[int] = []
    options = Durable(capacity=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "jobs", options=options)
        await ref.tell(Job(0))
        await ref.tell(Job(1))
        ref.tell_nowait(Job(2))
        with trio.move_on_after(0.5) as scope:
            await rt.store.flush()
        assert scope.cancelled_caught  # not stored: no room
        await rt.spawn(Recorder, seen, name="jobs", mailbox=options)
        with trio.fail_after(10):
            await rt.store.flush()
        await eventually(lambda: len(seen) == 3)
    assert seen == [0, 1, 2]


async def test_tell_nowait_beyond_capacity_in_one_pass_raises_mailbox_full(
    js_server: NatsServer, prefix: str
) -> None:
    """What this process has staged and not yet stored counts: beyond capacity, MailboxFull."""
    seen: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Recorder, seen, name="jobs", mailbox=Durable(capacity=2))
        ref.tell_nowait(Job(0))
        ref.tell_nowait(Job(1))
        with pytest.raises(MailboxFull):
            ref.tell_nowait(Job(2))
        await rt.store.flush()
        await eventually(lambda: len(seen) == 2)
    assert seen == [0, 1]


class Oversender(trouper.Actor):
    """On its first attempt at a job, sends the sink more than the server takes in one message."""

    def __init__(self, sink: trouper.ActorRef[object], attempts: list[int]) -> None:
        self.sink = sink
        self.attempts = attempts

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.attempts.append(delivery.attempt)
        size = 2_000_000 if delivery.attempt == 1 else 10  # the server's max_payload: 1 MiB
        await self.sink.tell(Done(message.n, "x" * size))


async def test_a_handled_message_whose_sends_are_refused_is_delivered_again(
    js_server: NatsServer, prefix: str
) -> None:
    """A refused commit (a send too large) neither acks the message nor keeps it held here.

    Its outputs and ack were not stored, so it comes back after the backoff's
    delay and the next run's sends are stored; nothing of the refused run is.
    """
    got: list[Done] = []
    attempts: list[int] = []
    options = Durable(prefetch=1, backoff=(0.05,))
    async with trouper.open_runtime(store=store_for(js_server.url, prefix, ack_wait=1.0)) as rt:
        sink = await rt.spawn(Sink, got, name="sink", mailbox=Durable())
        await rt.spawn(Oversender, sink, attempts, name="jobs", mailbox=options)
        await durable_ref(rt, "jobs").tell(Job(7))
        await eventually(lambda: got)
        await rt.store.flush()

        async def counts() -> tuple[int, int]:
            stats = {s.name: s for s in await rt.store.mailbox_statistics()}
            return stats["jobs"].depth, stats["jobs"].in_flight

        async def drained() -> bool:
            return await counts() == (0, 0)

        # flush returns once the job's ack is written and the server answered a PING;
        # it applies the ack from the consumer's own queue after that.
        await eventually(drained)
        assert await counts() == (0, 0)
    assert attempts == [1, 2]
    assert got == [Done(7, "x" * 10)]
