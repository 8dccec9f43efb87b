"""Subscriptions belong to one incarnation of an actor, not to its address."""

from __future__ import annotations

import trio.testing
from topic_actors import Collector

from trouper import Runtime


async def test_a_stale_refs_dead_letter_keeps_the_new_actors_subscriptions(
    runtime: Runtime,
) -> None:
    """A tell to a stopped actor's old ref does not unsubscribe the actor now under its name."""
    old = await runtime.spawn(Collector, [], name="a")
    await runtime.stop(old)
    seen: list[object] = []
    new = await runtime.spawn(Collector, seen, name="a")
    assert new.address == old.address
    runtime.topics.subscribe(new, "prices")
    # Someone watches dead letters (as the observe view does).
    runtime.topics.subscribe(await runtime.spawn(Collector, []), "trouper.system.dead_letters")
    assert not await old.tell("stale")  # the old incarnation's dead letter
    await trio.testing.wait_all_tasks_blocked()
    assert len(runtime.topics.subscriptions_of(new)) == 1
    assert await runtime.topics.publish("prices", 1) == 1
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [1]
