"""Review 14: a queue group member whose stop begins while a publish waits on it hands over."""

from __future__ import annotations

import trio
import trio.testing
from topic_actors import NamedGated, publish_counted, spawn_held

from trouper import Runtime
from trouper.runtime import DeadLetter


async def test_a_member_stopped_while_the_publish_waits_on_it_hands_over(
    runtime: Runtime,
) -> None:
    """The publish waiting for room in a's mailbox gives the message to b once a stops for good."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate = trio.Event()
    a = await spawn_held(runtime, "a", gate, journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    runtime.topics.subscribe(a, "jobs", queue="workers")
    runtime.topics.subscribe(b, "jobs", queue="workers")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "jobs", "job")
        await trio.testing.wait_all_tasks_blocked()  # it waits for room in a's mailbox
        nursery.start_soon(runtime.stop, a)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [1]
    assert sorted(journal) == [("a", "busy"), ("b", "job")]
    # a's stop refused both, as it refuses every send: "job" is its dead letter all the same.
    assert [(letter.message, letter.recipient) for letter in letters] == [
        ("full", a.address),
        ("job", a.address),
    ]


async def test_the_only_member_stopped_while_the_publish_waits_on_it_is_one_dead_letter(
    runtime: Runtime,
) -> None:
    """With no other member to take it, the message is a's dead letter once, as before."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate = trio.Event()
    a = await spawn_held(runtime, "a", gate, journal)
    runtime.topics.subscribe(a, "jobs", queue="workers")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "jobs", "job")
        await trio.testing.wait_all_tasks_blocked()  # it waits for room in a's mailbox
        nursery.start_soon(runtime.stop, a)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    assert counts == [0]
    assert [(letter.message, letter.recipient) for letter in letters] == [
        ("full", a.address),
        ("job", a.address),
    ]
