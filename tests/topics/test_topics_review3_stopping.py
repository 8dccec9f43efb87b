"""Review: a queue group passes over a local member that is stopping for good."""

from __future__ import annotations

import trio
import trio.testing

import trouper
from trouper import Actor, ActorRef, Address
from trouper.runtime import DeadLetter, DeadLetterReason
from trouper.topics import Subscription


class Slow(Actor):
    """Journals what it receives under its name; its ``on_stop`` waits for ``release``."""

    def __init__(self, name: str, journal: list[tuple[str, object]], release: trio.Event) -> None:
        self.name = name
        self.journal = journal
        self.release = release

    async def on_stop(self) -> None:
        await self.release.wait()

    async def receive(self, message: object) -> None:
        self.journal.append((self.name, message))


class Recorder:
    """An endpoint of no local actor (as another node's): records what it is sent."""

    def __init__(self, name: str, journal: list[tuple[str, object]]) -> None:
        self.name = name
        self.journal = journal

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        self.journal.append((self.name, message))
        await trio.lowlevel.checkpoint()
        return True

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        self.journal.append((self.name, message))
        return True

    async def ask(self, message: object) -> object:
        raise NotImplementedError

    def watch(self, watcher: object) -> None:
        raise NotImplementedError

    def unwatch(self, watcher: object) -> None:
        raise NotImplementedError


def offer_now(subscription: Subscription, item: object) -> bool:
    """Deliver at once (the tests' mailboxes have room)."""
    return subscription.ref.endpoint.send_nowait(item)


async def _members(
    rt: trouper.Runtime, names: str, journal: list[tuple[str, object]], release: trio.Event
) -> list[ActorRef[object]]:
    refs = []
    for name in names:
        ref = await rt.spawn(Slow, name, journal, release, name=name)
        rt.topics.subscribe(ref, "jobs", queue="workers")
        refs.append(ref)
    return refs


async def test_a_publish_passes_over_a_member_running_its_on_stop() -> None:
    """While a's on_stop runs, every publish reaches b: no dead letter, each counted once."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        a, _b = await _members(rt, "ab", journal, release)
        nursery.start_soon(rt.stop, a)
        await trio.testing.wait_all_tasks_blocked()  # a waits in its on_stop
        counts = [await rt.topics.publish("jobs", n) for n in range(4)]
        await trio.testing.wait_all_tasks_blocked()
        assert letters == []
        assert counts == [1, 1, 1, 1]
        assert journal == [("b", n) for n in range(4)]
        release.set()


async def test_the_open_members_keep_taking_turns_around_a_stopping_one() -> None:
    """With b stopping, a and c alternate, as a round-robin pool does around a closed member."""
    journal: list[tuple[str, object]] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        _a, b, _c = await _members(rt, "abc", journal, release)
        nursery.start_soon(rt.stop, b)
        await trio.testing.wait_all_tasks_blocked()
        for n in range(4):
            await rt.topics.publish("jobs", n)
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(journal) == [("a", 0), ("a", 2), ("c", 1), ("c", 3)]
        release.set()


async def test_deliver_to_group_passes_over_a_stopping_member_without_a_dead_letter() -> None:
    """A message the cluster chose this runtime for goes to the open member at once."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        a, _b = await _members(rt, "ab", journal, release)
        nursery.start_soon(rt.stop, a)
        await trio.testing.wait_all_tasks_blocked()
        results = [
            rt.topics.deliver_to_group("jobs", "workers", "jobs", n, offer_now) for n in range(2)
        ]
        await trio.testing.wait_all_tasks_blocked()
        assert (results, letters) == ([True, True], [])
        assert journal == [("b", 0), ("b", 1)]
        release.set()


async def test_a_group_whose_every_member_is_stopping_dead_letters_the_message() -> None:
    """No open member: the member whose turn it is gets it, as an ACTOR_STOPPED dead letter."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        [a] = await _members(rt, "a", journal, release)
        nursery.start_soon(rt.stop, a)
        await trio.testing.wait_all_tasks_blocked()
        assert await rt.topics.publish("jobs", 1) == 0
        assert [(x.message, x.recipient, x.reason) for x in letters] == [
            (1, a.address, DeadLetterReason.ACTOR_STOPPED)
        ]
        release.set()
    assert journal == []


async def test_a_member_with_no_local_actor_keeps_its_turns() -> None:
    """A ref to no actor of this process (another node's) is never taken for a stopping one."""
    journal: list[tuple[str, object]] = []
    release = trio.Event()
    release.set()
    async with trouper.open_runtime() as rt:
        far = ActorRef(Address("elsewhere", "/far"), Recorder("far", journal))
        rt.topics.subscribe(far, "jobs", queue="workers")
        await _members(rt, "a", journal, release)
        for n in range(4):
            await rt.topics.publish("jobs", n)
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(journal) == [("a", 1), ("a", 3), ("far", 0), ("far", 2)]
