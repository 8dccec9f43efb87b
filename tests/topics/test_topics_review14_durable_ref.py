"""Review 14: a dead letter to a stopped actor keeps the subscriptions of refs with no local actor.

Such a ref (a ``durable_ref``, a ref that reaches the address by path) stays
subscribed until cancelled, also when the actor of its name stops here: the
stopped actor's ``STOPPED`` event keeps it, and so must a dead letter to it.
"""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from test_topics_review3_stopping import Recorder
from topic_actors import Collector

import trouper
from trouper import ActorRef, Runtime
from trouper.durable import Durable, SqliteStore, durable_ref


async def test_a_dead_letter_to_a_stopped_durable_actor_keeps_its_durable_ref_subscribed(
    tmp_path: Path,
) -> None:
    """A tell through the stopped actor's own ref is a dead letter; the durable_ref stays."""
    store = SqliteStore(tmp_path / "s.db", synchronous="normal")
    async with trouper.open_runtime(store=store) as rt:
        watcher = await rt.spawn(Collector, [])
        rt.topics.subscribe(watcher, "trouper.system.dead_letters")  # dead letters are watched
        old = await rt.spawn(Collector, [], name="sub", mailbox=Durable())
        kept = rt.topics.subscribe(durable_ref(rt, "sub"), "orders")
        await rt.stop(old)
        assert not await old.tell("late")  # a dead letter to /sub
        await trio.testing.wait_all_tasks_blocked()
        assert kept.active


async def test_a_dead_letter_to_a_stopped_actor_keeps_a_by_path_ref_subscribed(
    runtime: Runtime,
) -> None:
    """The by-path ref still gets what is published once the actor of its address has stopped."""
    journal: list[tuple[str, object]] = []
    runtime.topics.subscribe(await runtime.spawn(Collector, []), "trouper.system.dead_letters")
    old = await runtime.spawn(Collector, [], name="a")
    by_path = ActorRef(old.address, Recorder("by path", journal))
    runtime.topics.subscribe(by_path, "news")
    await runtime.stop(old)
    assert not await old.tell("stale")  # a dead letter to /a
    await trio.testing.wait_all_tasks_blocked()
    assert await runtime.topics.publish("news", 1) == 1
    assert journal == [("by path", 1)]
