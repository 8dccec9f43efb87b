"""Review fix: a broadcast pool leaving its queue group mid-publish does not split the publish."""

from __future__ import annotations

import trio
import trio.testing
from topic_actors import Journaling, held_broadcast_pool

from trouper import Runtime
from trouper.routing import Broadcast, RoundRobin, members, resize
from trouper.topics import Subscription


async def _publish_then_leave(
    runtime: Runtime, gate: trio.Event, joined: Subscription
) -> list[int]:
    """Publish; once it waits on a full mailbox end ``joined``, then open ``gate``."""
    counts: list[int] = []

    async def publish() -> None:
        counts.append(await runtime.topics.publish("prices.nyse", "quote"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish)
        await trio.testing.wait_all_tasks_blocked()
        joined.cancel()
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    return counts


async def test_a_broadcast_pool_leaving_its_group_mid_publish_keeps_the_message(
    runtime: Runtime,
) -> None:
    """member-1 has it, member-2 is full, the pool leaves: the next group member does not get it."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    pool = await held_broadcast_pool(runtime, gate, journal)
    other = await runtime.spawn(Journaling, gate, journal, name="other")
    joined = runtime.topics.subscribe(pool, "prices.*", queue="workers")
    runtime.topics.subscribe(other, "prices.*", queue="workers")
    counts = await _publish_then_leave(runtime, gate, joined)
    quotes = [path for path, message in journal if message == "quote"]
    assert quotes == ["/pool/member-1"]
    assert counts == [0]
    assert await runtime.topics.publish("prices.nyse", "next") == 1  # the group goes on
    await trio.testing.wait_all_tasks_blocked()
    assert [path for path, message in journal if message == "next"] == ["/other"]


async def test_a_round_robin_pool_leaving_its_group_mid_publish_hands_the_message_on(
    runtime: Runtime,
) -> None:
    """A pool whose tell is whole or nothing hands a message it never took to the next member."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    pool = await runtime.spawn_pool(
        Journaling, 1, gate, journal, router=RoundRobin(), name="pool", mailbox_size=1
    )
    await pool.tell("busy")
    await trio.testing.wait_all_tasks_blocked()
    await pool.tell("full")
    other = await runtime.spawn(Journaling, gate, journal, name="other")
    joined = runtime.topics.subscribe(pool, "prices.*", queue="workers")
    runtime.topics.subscribe(other, "prices.*", queue="workers")
    counts = await _publish_then_leave(runtime, gate, joined)
    quotes = [path for path, message in journal if message == "quote"]
    assert quotes == ["/other"]
    assert counts == [1]


async def test_a_broadcast_pool_stopping_as_it_leaves_its_group_keeps_the_message(
    runtime: Runtime,
) -> None:
    """The pool's stop begins (its Resize still running), then it leaves: no second member."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    pool = await runtime.spawn_pool(
        Journaling, 2, gate, journal, 3, router=Broadcast(), name="pool", mailbox_size=1
    )
    _, second = await members(pool)
    await second.tell("busy")
    await trio.testing.wait_all_tasks_blocked()
    await second.tell("full")
    other = await runtime.spawn(Journaling, gate, journal, name="other")
    joined = runtime.topics.subscribe(pool, "prices.*", queue="workers")
    runtime.topics.subscribe(other, "prices.*", queue="workers")
    counts: list[int] = []

    async def publish() -> None:
        counts.append(await runtime.topics.publish("prices.nyse", "quote"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish)
        nursery.start_soon(resize, pool, 3)  # member-3 takes 1 s to start
        await trio.testing.wait_all_tasks_blocked()  # member-1 has it; waits on member-2
        nursery.start_soon(runtime.stop, pool)  # the pool's own mailbox closes now
        await trio.testing.wait_all_tasks_blocked()
        joined.cancel()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    quotes = [path for path, message in journal if message == "quote"]
    assert quotes == ["/pool/member-1"]
    assert counts == [0]
