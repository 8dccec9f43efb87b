"""Review 7: a queue group's member is picked when the publish reaches it, not before."""

from __future__ import annotations

import trio
import trio.testing
from topic_actors import NamedGated, publish_counted, spawn_held

from trouper import Actor, Runtime
from trouper.runtime import DeadLetter


class Stopping(Actor):
    """Journals what it receives under its name; its ``on_stop`` waits for ``release``."""

    def __init__(self, name: str, release: trio.Event, journal: list[tuple[str, object]]) -> None:
        self.name = name
        self.release = release
        self.journal = journal

    async def on_stop(self) -> None:
        await self.release.wait()

    async def receive(self, message: object) -> None:
        self.journal.append((self.name, message))


async def test_a_member_whose_stop_begins_while_the_publish_waits_gets_no_turn(
    runtime: Runtime,
) -> None:
    """a begins its stop for good (on_stop running) while plain holds the publish up: b gets it."""
    journal: list[tuple[str, object]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    gate, release = trio.Event(), trio.Event()
    plain = await spawn_held(runtime, "plain", gate, journal)
    a = await runtime.spawn(Stopping, "a", release, journal)
    b = await runtime.spawn(NamedGated, "b", gate, journal)
    runtime.topics.subscribe(plain, "jobs")
    runtime.topics.subscribe(a, "jobs", queue="workers")
    runtime.topics.subscribe(b, "jobs", queue="workers")
    counts: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_counted, runtime, counts, "jobs", "job")
        await trio.testing.wait_all_tasks_blocked()  # held up by plain's full mailbox
        nursery.start_soon(runtime.stop, a)
        await trio.testing.wait_all_tasks_blocked()  # a's on_stop runs: its mailbox is closed
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert (counts, letters) == ([2], [])
        release.set()
    assert sorted(journal) == [
        ("b", "job"),
        ("plain", "busy"),
        ("plain", "full"),
        ("plain", "job"),
    ]


class Keeper(Actor):
    """Keeps every message it receives, as is."""

    def __init__(self, kept: list[object]) -> None:
        self.kept = kept

    async def receive(self, message: object) -> None:
        self.kept.append(message)


async def test_a_group_member_shares_the_publishs_published_wrapper(runtime: Runtime) -> None:
    """One ``Published`` per publish: a plain subscriber and a group member get the same one."""
    kept: list[object] = []
    plain = await runtime.spawn(Keeper, kept)
    member = await runtime.spawn(Keeper, kept)
    runtime.topics.subscribe(plain, "jobs", with_subject=True)
    runtime.topics.subscribe(member, "jobs", with_subject=True, queue="workers")
    assert await runtime.topics.publish("jobs", "job") == 2
    await trio.testing.wait_all_tasks_blocked()
    first, second = kept
    assert first is second
