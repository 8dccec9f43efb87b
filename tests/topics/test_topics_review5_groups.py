"""Review 5: a queue group's message is not lost when its picked member leaves mid-publish."""

from __future__ import annotations

import trio
import trio.testing
from topic_actors import NamedGated, publish_counted, spawn_held

from trouper import Actor, Runtime
from trouper.runtime import DeadLetter
from trouper.topics import Subscription


async def test_a_member_unsubscribed_while_the_publish_waits_on_it_hands_over(
    runtime: Runtime,
) -> None:
    """The publish waiting on a's full mailbox gives the message to b once a leaves the group."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate = trio.Event()
    a = await spawn_held(runtime, "a", gate, journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    left = runtime.topics.subscribe(a, "jobs", queue="workers")
    runtime.topics.subscribe(b, "jobs", queue="workers")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "jobs", "job")
        await trio.testing.wait_all_tasks_blocked()  # it waits for room in a's mailbox
        left.cancel()
    gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [1]
    assert sorted(journal) == [("a", "busy"), ("a", "full"), ("b", "job")]
    assert letters == []


async def test_a_picked_member_unsubscribed_before_its_turn_hands_over(runtime: Runtime) -> None:
    """A member picked, then unsubscribed while the publish waits on another: b gets it."""
    journal: list[tuple[str, object]] = []
    gate = trio.Event()
    plain = await spawn_held(runtime, "plain", gate, journal)
    a = await runtime.spawn(NamedGated, "a", gate, journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    runtime.topics.subscribe(plain, "jobs")
    left = runtime.topics.subscribe(a, "jobs", queue="workers")
    runtime.topics.subscribe(b, "jobs", queue="workers")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "jobs", "job")
        await trio.testing.wait_all_tasks_blocked()  # a is picked; plain's mailbox holds it up
        left.cancel()
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [2]
    assert sorted(journal) == [
        ("b", "job"),
        ("plain", "busy"),
        ("plain", "full"),
        ("plain", "job"),
    ]


async def test_a_picked_member_stopped_before_its_turn_hands_over(runtime: Runtime) -> None:
    """A member picked, then stopped for good while the publish waits elsewhere: b gets it."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate = trio.Event()
    plain = await spawn_held(runtime, "plain", gate, journal)
    a = await runtime.spawn(NamedGated, "a", trio.Event(), journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    runtime.topics.subscribe(plain, "jobs")
    runtime.topics.subscribe(a, "jobs", queue="workers")
    runtime.topics.subscribe(b, "jobs", queue="workers")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "jobs", "job")
        await trio.testing.wait_all_tasks_blocked()  # a is picked; plain's mailbox holds it up
        await runtime.stop(a)
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [2]
    assert ("b", "job") in journal
    assert letters == []


async def test_a_group_left_empty_mid_publish_takes_nothing(runtime: Runtime) -> None:
    """The only member leaves while the publish waits on it: nothing delivered, no dead letter."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate = trio.Event()
    a = await spawn_held(runtime, "a", gate, journal)
    left = runtime.topics.subscribe(a, "jobs", queue="workers")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "jobs", "job")
        await trio.testing.wait_all_tasks_blocked()
        left.cancel()
    gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert counts == [0]
    assert journal == [("a", "busy"), ("a", "full")]
    assert letters == []


class Stopping(Actor):
    """Journals what it receives; its ``on_stop`` waits for ``release``."""

    def __init__(self, release: trio.Event, journal: list[object]) -> None:
        self.release = release
        self.journal = journal

    async def on_stop(self) -> None:
        await self.release.wait()

    async def receive(self, message: object) -> None:
        self.journal.append(message)


def _offer_now(subscription: Subscription, item: object) -> bool:
    return subscription.ref.endpoint.send_nowait(item)


async def test_deliver_to_group_of_stopping_members_makes_one_dead_letter(
    runtime: Runtime,
) -> None:
    """Every member here stopping: one dead letter to the one whose turn it was, not one each."""
    journal: list[object] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    release = trio.Event()
    members = [await runtime.spawn(Stopping, release, journal) for _ in range(3)]
    for ref in members:
        runtime.topics.subscribe(ref, "jobs", queue="workers")
    async with trio.open_nursery() as nursery:
        for ref in members:
            nursery.start_soon(runtime.stop, ref)
        await trio.testing.wait_all_tasks_blocked()  # each waits in its on_stop
        taken = runtime.topics.deliver_to_group("jobs", "workers", "jobs", "job", _offer_now)
        assert (taken, [(x.message, x.recipient) for x in letters]) == (
            True,
            [("job", members[0].address)],
        )
        release.set()
    assert journal == []
