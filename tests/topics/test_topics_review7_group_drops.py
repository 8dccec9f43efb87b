"""Review 7: a queue group's message dropped by a full ``DROP`` member is not handed on as well."""

from __future__ import annotations

import trio
import trio.testing
from test_topics_review3_stopping import offer_now
from topic_actors import NamedGated, spawn_held

from trouper import Runtime
from trouper.runtime import DeadLetter, DeadLetterReason
from trouper.topics import Overflow


async def test_deliver_to_group_drops_for_a_full_drop_member_as_publish_does(
    runtime: Runtime,
) -> None:
    """a's turn, a's mailbox full: one slow-subscriber dead letter, and b does not get it too."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate = trio.Event()
    a = await spawn_held(runtime, "a", gate, journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    dropping = runtime.topics.subscribe(a, "jobs", queue="workers", overflow=Overflow.DROP)
    runtime.topics.subscribe(b, "jobs", queue="workers", overflow=Overflow.DROP)
    await trio.testing.wait_all_tasks_blocked()
    taken = runtime.topics.deliver_to_group("jobs", "workers", "jobs", "job", offer_now)
    local = await runtime.topics.publish("jobs", "next")  # b's turn now
    gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert (taken, local, dropping.dropped) == (True, 1, 1)
    assert [(x.message, x.recipient, x.reason) for x in letters] == [
        ("job", a.address, DeadLetterReason.SLOW_SUBSCRIBER)
    ]
    assert sorted(journal) == [("a", "busy"), ("a", "full"), ("b", "next")]
