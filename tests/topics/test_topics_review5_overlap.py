"""Review 5: a subscriber still subscribed through another pattern gets a publish in progress."""

from __future__ import annotations

import trio
import trio.testing
from topic_actors import NamedGated, publish_counted, spawn_held

from trouper import Runtime
from trouper.runtime import DeadLetter


async def test_cancelling_the_serving_subscription_before_its_turn_keeps_the_other(
    runtime: Runtime,
) -> None:
    """b's first pattern is cancelled while the publish waits on a: b's second still brings it."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    a = await spawn_held(runtime, "a", gate, journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    runtime.topics.subscribe(a, "prices.nyse")
    first = runtime.topics.subscribe(b, "prices.*")
    runtime.topics.subscribe(b, "prices.nyse")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "prices.nyse", "quote")
        await trio.testing.wait_all_tasks_blocked()  # it waits for room in a's mailbox
        first.cancel()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [2]
    assert ("b", "quote") in journal


async def test_cancelling_the_subscription_a_publish_waits_on_keeps_the_other(
    runtime: Runtime,
) -> None:
    """The publish waits on b's full mailbox; b's first pattern ends, its second still brings it."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate = trio.Event()
    b = await spawn_held(runtime, "b", gate, journal)
    first = runtime.topics.subscribe(b, "prices.*")
    runtime.topics.subscribe(b, "prices.nyse")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "prices.nyse", "quote")
        await trio.testing.wait_all_tasks_blocked()  # it waits for room in b's mailbox
        first.cancel()
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [1]
    assert journal == [("b", "busy"), ("b", "full"), ("b", "quote")]
    assert letters == []


async def test_cancelling_the_only_matching_subscription_still_skips(runtime: Runtime) -> None:
    """b's other pattern does not match the subject: b is skipped, as before."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    a = await spawn_held(runtime, "a", gate, journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    runtime.topics.subscribe(a, "prices.nyse")
    only = runtime.topics.subscribe(b, "prices.*")
    runtime.topics.subscribe(b, "prices.lse")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "prices.nyse", "quote")
        await trio.testing.wait_all_tasks_blocked()
        only.cancel()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [1]
    assert ("b", "quote") not in journal
