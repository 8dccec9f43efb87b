"""Review fix: a subscriber whose delivery raises loses the message alone, as a dead letter."""

from __future__ import annotations

import gc
import traceback
import weakref

import attrs
import trio.testing
from topic_actors import Collector

import trouper
from trouper import Actor, handler
from trouper.routing import ConsistentHash
from trouper.runtime import DeadLetterReason
from trouper.topics import Overflow, Subscription


@attrs.frozen
class Job:
    key: str


class Worker(Actor):
    @handler
    async def job(self, message: Job) -> None:
        pass


def key_of(message: object) -> object:
    return message.key  # type: ignore[attr-defined]  # a plain str has none: the key raises


def offer_now(subscription: Subscription, item: object) -> bool:
    """Deliver at once (the tests' mailboxes have room)."""
    return subscription.ref.endpoint.send_nowait(item)


async def _setup(
    rt: trouper.Runtime, seen: list[object], overflow: Overflow
) -> trouper.ActorRef[object]:
    pool = await rt.spawn_pool(Worker, 2, router=ConsistentHash(key_of), name="hashed")
    rt.topics.subscribe(pool, "news", overflow=overflow)
    rt.topics.subscribe(await rt.spawn(Collector, seen, name="after"), "news")
    return pool


def _assert_dead_letter(rt: trouper.Runtime, pool: trouper.ActorRef[object]) -> None:
    letter = rt.dead_letters.recent[-1]
    assert letter.reason == DeadLetterReason.DELIVERY_FAILED
    assert letter.recipient == pool.address
    assert letter.message == "hello"
    assert isinstance(letter.error, AttributeError)


async def test_a_publish_reaches_the_subscribers_after_one_whose_send_raises() -> None:
    """A backpressure subscriber that raises: the rest get the message, it gets a dead letter."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        pool = await _setup(rt, seen, Overflow.BACKPRESSURE)
        assert await rt.topics.publish("news", "hello") == 1
        await trio.testing.wait_all_tasks_blocked()
        assert seen == ["hello"]
        _assert_dead_letter(rt, pool)


async def test_a_drop_subscriber_whose_send_raises_does_not_stop_the_publish() -> None:
    """The same for a ``DROP`` subscriber (``send_nowait`` raising something else than full)."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        pool = await _setup(rt, seen, Overflow.DROP)
        assert await rt.topics.publish("news", "hello") == 1
        await trio.testing.wait_all_tasks_blocked()
        assert seen == ["hello"]
        _assert_dead_letter(rt, pool)
        assert rt.topics.dropped == 0  # not a slow subscriber


async def test_deliver_nowait_reaches_the_subscribers_after_one_whose_send_raises() -> None:
    """A message from another node: the subscriber that raises does not starve the others."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        pool = await _setup(rt, seen, Overflow.BACKPRESSURE)
        assert rt.topics.deliver_nowait("news", "hello", offer_now) == 1
        await trio.testing.wait_all_tasks_blocked()
        assert seen == ["hello"]
        _assert_dead_letter(rt, pool)


class Big:
    """Stands for a large object the failing key function holds in a local variable."""


async def test_a_failed_delivery_does_not_keep_the_failing_code_s_locals() -> None:
    """The dead letter keeps the error and its traceback, not the locals of its frames."""
    kept: list[weakref.ref[object]] = []

    def heavy_key(message: object) -> object:
        big = Big()
        kept.append(weakref.ref(big))
        raise ValueError("no key")

    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, router=ConsistentHash(heavy_key), name="hashed")
        rt.topics.subscribe(pool, "news")
        assert await rt.topics.publish("news", "hello") == 0
        gc.collect()
        assert [ref() for ref in kept] == [None]
        letter = rt.dead_letters.recent[-1]
        assert letter.reason == DeadLetterReason.DELIVERY_FAILED
        assert 'raise ValueError("no key")' in "".join(traceback.format_exception(letter.error))


async def test_deliver_to_group_passes_over_a_member_whose_send_raises() -> None:
    """The group's next member gets the message; the one that raised, a dead letter."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, router=ConsistentHash(key_of), name="hashed")
        rt.topics.subscribe(pool, "news", queue="readers")
        rt.topics.subscribe(await rt.spawn(Collector, seen), "news", queue="readers")
        assert rt.topics.deliver_to_group("news", "readers", "news", "hello", offer_now)
        await trio.testing.wait_all_tasks_blocked()
        assert seen == ["hello"]
        _assert_dead_letter(rt, pool)
