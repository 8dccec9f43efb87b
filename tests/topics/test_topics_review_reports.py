"""Review fixes: one failing system subscriber, and a publish waiting on an unsubscribed one."""

from __future__ import annotations

import attrs
import trio
import trio.testing
from topic_actors import Collector, Gated

import trouper
from trouper import Actor, ActorEvent, EventKind, handler
from trouper.routing import ConsistentHash
from trouper.runtime import DeadLetterReason
from trouper.topics import system_subject


@attrs.frozen
class Job:
    key: str


class Worker(Actor):
    @handler
    async def job(self, message: Job) -> None:
        pass

    @handler
    async def event(self, message: ActorEvent) -> None:
        pass


def key_of(message: object) -> object:
    return message.key  # type: ignore[attr-defined]  # an ActorEvent has none: the key raises


async def test_a_system_subscriber_whose_send_raises_does_not_starve_the_others() -> None:
    """The subscribers after one whose delivery raises still get each report."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, router=ConsistentHash(key_of), name="hashed")
        rt.topics.subscribe(pool, system_subject(EventKind.STARTED))
        collector = await rt.spawn(Collector, seen, name="collector")
        rt.topics.subscribe(collector, system_subject(EventKind.STARTED))
        await rt.spawn(Collector, [], name="newcomer")
        await trio.testing.wait_all_tasks_blocked()
        assert [(e.kind, e.address.path) for e in seen if isinstance(e, ActorEvent)] == [
            (EventKind.STARTED, "/newcomer")
        ]
        letter = rt.dead_letters.recent[-1]
        assert letter.reason == DeadLetterReason.DELIVERY_FAILED
        assert letter.recipient == pool.address
        assert isinstance(letter.message, ActorEvent)
        assert isinstance(letter.error, AttributeError)


async def test_a_publish_waiting_on_a_subscriber_that_unsubscribes_skips_it() -> None:
    """Once ``unsubscribe`` returns, a publish already waiting for its room does not deliver."""
    gate = trio.Event()
    slow_seen: list[object] = []
    after_seen: list[object] = []
    async with trouper.open_runtime() as rt:
        slow = await rt.spawn(Gated, gate, slow_seen, mailbox_size=1)
        after = await rt.spawn(Collector, after_seen)
        subscription = rt.topics.subscribe(slow, "news")
        rt.topics.subscribe(after, "news")
        counts: list[int] = []
        async with trio.open_nursery() as nursery:
            await rt.topics.publish("news", 1)  # slow takes it and waits at the gate
            await rt.topics.publish("news", 2)  # fills slow's mailbox
            nursery.start_soon(lambda: _publish(rt, 3, counts))
            await trio.testing.wait_all_tasks_blocked()  # the third waits for slow's room
            subscription.cancel()
            gate.set()
        assert counts == [1]  # reached only the subscriber after it
        await trio.testing.wait_all_tasks_blocked()
        assert slow_seen == [1, 2]
        assert after_seen == [1, 2, 3]
        assert rt.dead_letters.count == 0


async def _publish(rt: trouper.Runtime, message: object, counts: list[int]) -> None:
    counts.append(await rt.topics.publish("news", message))
