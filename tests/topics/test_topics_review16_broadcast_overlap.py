"""Review fix: a broadcast pool matched by two of its patterns gets a publish once per member."""

from __future__ import annotations

import trio
import trio.testing
from topic_actors import held_broadcast_pool

from trouper import Runtime


async def test_a_broadcast_pool_whose_waited_pattern_ends_gets_the_publish_once_per_member(
    runtime: Runtime,
) -> None:
    """member-2 is full; the pattern the publish waits on ends: the other one does not resend it."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    pool = await held_broadcast_pool(runtime, gate, journal)
    first = runtime.topics.subscribe(pool, "prices.*")
    runtime.topics.subscribe(pool, "prices.nyse")
    counts: list[int] = []

    async def publish() -> None:
        counts.append(await runtime.topics.publish("prices.nyse", "quote"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish)
        await trio.testing.wait_all_tasks_blocked()  # member-1 has it; waits on member-2
        first.cancel()
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    quotes = sorted(path for path, message in journal if message == "quote")
    assert quotes == ["/pool/member-1", "/pool/member-2"]
    assert counts == [1]


async def test_ending_both_patterns_of_a_waited_broadcast_pool_ends_the_wait(
    runtime: Runtime,
) -> None:
    """The wait handed to the second pattern ends with it: member-2 never gets the publish."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    pool = await held_broadcast_pool(runtime, gate, journal)
    first = runtime.topics.subscribe(pool, "prices.*")
    second = runtime.topics.subscribe(pool, "prices.nyse")
    counts: list[int] = []

    async def publish() -> None:
        counts.append(await runtime.topics.publish("prices.nyse", "quote"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish)
        await trio.testing.wait_all_tasks_blocked()  # member-1 has it; waits on member-2
        first.cancel()
        second.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert counts == [0]
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    quotes = [path for path, message in journal if message == "quote"]
    assert quotes == ["/pool/member-1"]
