"""Review: a durable actor on JetStream that tells its own full mailbox does not wait for ever."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.nats import DiscardPolicy, RetentionPolicy, StreamConfig
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Echo(trouper.Actor):
    """Records each job; a job under 10 tells its own mailbox job ``n + 10``."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.seen.append(message.n)
        if message.n < 10:
            await self.ctx.self_ref.tell(Job(message.n + 10))


async def test_a_handler_telling_its_own_full_mailbox_is_stored_beyond_capacity(
    js_server: NatsServer, prefix: str
) -> None:
    """Two jobs fill a mailbox of capacity 2; each handler's tell to itself is stored anyway.

    Its sends are stored before its message is acked, and the ack is what
    makes room: the tell used to wait for room that only its own ack could
    make. As on SQLite, a handler's sends are never refused for room.
    """
    seen: list[int] = []
    options = Durable(capacity=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "echo", options=options)
        await ref.tell(Job(0))
        await ref.tell(Job(1))
        await rt.spawn(Echo, seen, name="echo", mailbox=options)
        await eventually(lambda: len(seen) == 4, seconds=5.0)
        await rt.store.flush()

        async def drained() -> bool:
            (stats,) = await rt.store.mailbox_statistics()
            return stats.depth == 0

        # flush returns once the acks are written and the server answered a PING; the
        # server applies acks from a queue of the consumer's own, after that answer
        # (nats-server's processInboundAcks), so the stream drains in its own time.
        await eventually(drained, seconds=5.0)
    assert sorted(seen) == [0, 1, 10, 11]


async def test_a_full_mailbox_still_holds_back_tells_from_outside_its_handlers(
    js_server: NatsServer, prefix: str
) -> None:
    """Beside the handlers' sends stored beyond capacity, a plain tell still waits for room."""
    told: list[int] = []
    options = Durable(capacity=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "echo", options=options)
        await ref.tell(Job(20))
        await ref.tell(Job(21))

        async def third() -> None:
            await ref.tell(Job(22))
            told.append(22)

        seen: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(third)
            await trio.sleep(0.5)
            assert told == []
            await rt.spawn(Echo, seen, name="echo", mailbox=options)
        await eventually(lambda: len(seen) == 3)
    assert told == [22]
    assert sorted(seen) == [20, 21, 22]


class Relay(trouper.Actor):
    """Tells each job to ``target`` (a mailbox this runtime may not host) as job ``n + 100``."""

    def __init__(self, target: trouper.ActorRef[object]) -> None:
        self.target = target

    @trouper.handler
    async def job(self, message: Job) -> None:
        await self.target.tell(Job(message.n + 100))


async def test_a_full_mailbox_made_by_an_earlier_version_takes_a_handlers_send(
    js_server: NatsServer, prefix: str
) -> None:
    """A full stream of the earlier layout (one subject, max_msgs) is given the subjects under it.

    A handler's send to it, from a runtime that does not host it, is stored
    beyond its capacity; the host that opens it later keeps its capacity for tells.
    """
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        await store.client.jetstream().add_stream(
            StreamConfig(
                store.stream_name("old"),
                subjects=[store.subject("old")],
                retention=RetentionPolicy.WORK_QUEUE,
                max_msgs=1,
                discard=DiscardPolicy.NEW,
            )
        )
        await durable_ref(rt, "old").tell(Job(50))
        relay = await rt.spawn(Relay, durable_ref(rt, "old"), name="relay", mailbox=Durable())
        await relay.tell(Job(1))

        async def stored() -> bool:
            counts = {s.name: s.depth for s in await rt.store.mailbox_statistics()}
            return counts.get("old") == 2

        await eventually(stored)
        seen: list[int] = []
        await rt.spawn(Echo, seen, name="old", mailbox=Durable(capacity=1))
        await eventually(lambda: len(seen) == 2)
        info = await store.client.jetstream().stream_info(store.stream_name("old"))
    assert sorted(seen) == [50, 101]
    assert (info.config.max_msgs, info.config.max_msgs_per_subject) == (-1, 1)
