"""Review 7: a stale ref's dead letter keeps a living actor's subscriptions, whatever came first.

The subscriptions of one address may belong to refs of different kinds: the
local actor's own ref, and a ref to the same address that reaches it by path
(as a ref to this node decoded from another node's message does). A dead letter
told through a stopped incarnation's ref must not unsubscribe the actor living
under the address now, whichever of those subscribed first.
"""

from __future__ import annotations

import trio.testing
from test_topics_review3_stopping import Recorder
from topic_actors import Collector

from trouper import ActorRef, Runtime


async def test_a_stale_refs_dead_letter_keeps_the_subscriptions_of_a_by_path_ref_and_the_actor(
    runtime: Runtime,
) -> None:
    """A ref by path subscribed first: the living actor and that ref both stay subscribed."""
    old = await runtime.spawn(Collector, [], name="a")
    await runtime.stop(old)
    seen: list[object] = []
    new = await runtime.spawn(Collector, seen, name="a")
    journal: list[tuple[str, object]] = []
    by_path = ActorRef(new.address, Recorder("by path", journal))
    runtime.topics.subscribe(by_path, "news")
    runtime.topics.subscribe(new, "prices")
    # Someone watches dead letters (as the observe view does).
    runtime.topics.subscribe(await runtime.spawn(Collector, []), "trouper.system.dead_letters")
    assert not await old.tell("stale")  # the old incarnation's dead letter
    await trio.testing.wait_all_tasks_blocked()
    assert [s.pattern for s in runtime.topics.subscriptions_of(new)] == ["news", "prices"]
    assert await runtime.topics.publish("prices", 1) == 1
    assert await runtime.topics.publish("news", 2) == 1
    await trio.testing.wait_all_tasks_blocked()
    assert (seen, journal) == ([1], [("by path", 2)])
