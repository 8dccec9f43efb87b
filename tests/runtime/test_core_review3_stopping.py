"""Review: an actor stopping for good takes no new mail; a restart keeps its mailbox."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorStopped, Terminated, handler
from trouper.durable import Durable, SqliteStore
from trouper.routing import ConsistentHash, RoundRobin, Router, members
from trouper.runtime import DeadLetter, DeadLetterReason


@trouper.message("test.core.review3.job")
@attrs.frozen
class Job:
    key: int


@attrs.frozen
class Crash:
    pass


class Slow(Actor):
    """Journals its jobs; its ``on_stop`` waits until ``release`` is set."""

    def __init__(self, journal: list[tuple[str, int]], release: trio.Event) -> None:
        self.journal = journal
        self.release = release

    async def on_stop(self) -> None:
        await self.release.wait()

    @handler
    async def job(self, message: Job) -> str:
        member = self.ctx.self_ref.address.path.rpartition("/")[2]
        self.journal.append((member, message.key))
        return member

    @handler
    async def crash(self, message: Crash) -> None:
        raise RuntimeError("crash")


def _stopped(letters: list[DeadLetter]) -> list[object]:
    return [letter.message for letter in letters if letter.reason == DeadLetterReason.ACTOR_STOPPED]


@pytest.mark.parametrize(
    "router", [RoundRobin(), ConsistentHash(lambda m: getattr(m, "key", 0))], ids=repr
)
async def test_a_pool_routes_nothing_to_a_member_running_its_on_stop(router: Router) -> None:
    """While member-1 runs its on_stop, tells and asks to the pool go to member-2."""
    journal: list[tuple[str, int]] = []
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        pool = await rt.spawn_pool(Slow, 2, journal, release, router=router)
        first, _second = await members(pool)
        nursery.start_soon(rt.stop, first)
        await trio.testing.wait_all_tasks_blocked()  # member-1 waits in its on_stop
        for key in range(4):
            await pool.tell(Job(key))
        replies = [await pool.ask(Job(key)) for key in range(4, 6)]
        await trio.testing.wait_all_tasks_blocked()
        assert letters == []
        assert replies == ["member-2", "member-2"]
        assert sorted(journal) == [("member-2", key) for key in range(6)]
        release.set()


async def test_a_tell_to_an_actor_in_its_on_stop_is_a_dead_letter_at_once() -> None:
    """The tell returns at once and its ACTOR_STOPPED dead letter is posted before on_stop ends."""
    journal: list[tuple[str, int]] = []
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        ref = await rt.spawn(Slow, journal, release, name="slow")
        nursery.start_soon(rt.stop, ref)
        await trio.testing.wait_all_tasks_blocked()
        await ref.tell(Job(1))
        assert _stopped(letters) == [Job(1)]
        assert not release.is_set()
        release.set()
    assert journal == []


async def test_an_ask_to_an_actor_in_its_on_stop_fails_at_once() -> None:
    """The ask raises ActorStopped at once (no virtual time passes), not when on_stop ends."""
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        ref = await rt.spawn(Slow, [], release, name="slow")
        nursery.start_soon(rt.stop, ref)
        await trio.testing.wait_all_tasks_blocked()
        before = trio.current_time()
        with trio.fail_after(1), pytest.raises(ActorStopped, match=r"^actor .*/slow has stopped$"):
            await ref.ask(Job(1))
        assert trio.current_time() == before
        assert _stopped(letters) == [Job(1)]
        release.set()


async def test_messages_queued_when_the_stop_begins_are_dead_letters_at_once() -> None:
    """What waits in the mailbox when a stop begins is dead-lettered then, its asks failed."""
    letters: list[DeadLetter] = []
    release = trio.Event()
    failures: list[BaseException] = []

    async def ask(ref: trouper.ActorRef[object]) -> None:
        try:
            await ref.ask(Job(3))
        except ActorStopped as error:
            failures.append(error)

    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        ref = await rt.spawn(Slow, [], release, name="slow")
        ref.tell_nowait(Job(1))
        ref.tell_nowait(Job(2))
        nursery.start_soon(ask, ref)
        await trio.testing.wait_all_tasks_blocked()  # (handled: the mailbox is empty again)
        blocker = trio.Event()

        class Waits(Actor):
            async def on_stop(self) -> None:
                await release.wait()

            @handler
            async def job(self, message: Job) -> None:
                await blocker.wait()

        busy = await rt.spawn(Waits, name="busy")
        busy.tell_nowait(Job(1))
        busy.tell_nowait(Job(2))
        nursery.start_soon(ask, busy)
        await trio.testing.wait_all_tasks_blocked()  # Job(1) runs; Job(2) and the ask wait
        nursery.start_soon(rt.stop, busy)
        await trio.testing.wait_all_tasks_blocked()
        assert _stopped(letters) == [Job(2), Job(3)]
        assert len(failures) == 1
        blocker.set()
        await trio.testing.wait_all_tasks_blocked()  # in on_stop now
        assert _stopped(letters) == [Job(2), Job(3)]
        release.set()


async def test_a_restart_keeps_the_mail_told_during_the_old_instances_on_stop() -> None:
    """Ending an instance for a restart is no stop: mail told meanwhile waits for the new one."""
    journal: list[tuple[str, int]] = []
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt:
        rt.dead_letters.listen(letters.append)
        ref = await rt.spawn(Slow, journal, release, name="slow")
        await ref.tell(Crash())
        await trio.testing.wait_all_tasks_blocked()  # the old instance waits in its on_stop
        await ref.tell(Job(1))
        release.set()
        assert await ref.ask(Job(2)) == "slow"
        assert journal == [("slow", 1), ("slow", 2)]
        assert _stopped(letters) == []


class Watcher(Actor):
    """Keeps its context for after its stop."""

    def __init__(self, kept: list[trouper.Context]) -> None:
        kept.append(self.ctx)

    @handler
    async def terminated(self, message: Terminated) -> None:
        pass


class Idle(Actor):
    @handler
    async def job(self, message: Job) -> None:
        pass


async def test_watch_link_and_spawn_on_the_context_of_a_stopped_actor_raise() -> None:
    """A context kept after its actor stopped refuses new bonds and children, naming the actor."""
    kept: list[trouper.Context] = []
    letters: list[DeadLetter] = []
    async with trouper.open_runtime() as rt:
        rt.dead_letters.listen(letters.append)
        ref = await rt.spawn(Watcher, kept, name="watcher")
        other = await rt.spawn(Idle, name="other")
        await rt.stop(ref)
        [ctx] = kept
        exact = rf"^{re.escape(str(ActorStopped(ref.address)))}$"
        with pytest.raises(ActorStopped, match=exact):
            ctx.watch(other)
        with pytest.raises(ActorStopped, match=exact):
            ctx.link(other)
        with pytest.raises(ActorStopped, match=exact):
            await ctx.spawn(Idle)
        with pytest.raises(ActorStopped, match=exact):
            await ctx.spawn_pool(Idle, 2)
        with pytest.raises(ActorStopped, match=exact):
            await ctx.start_child(trouper.ChildSpec("child", Idle))
        # Nothing stale was left on the other side: its stop tells no one.
        await rt.stop(other)
        await trio.testing.wait_all_tasks_blocked()
        assert letters == []


class Keeper(Actor):
    """Journals its jobs; its ``on_stop`` waits until ``release`` is set (or there is none)."""

    def __init__(self, journal: list[int], release: trio.Event | None) -> None:
        self.journal = journal
        self.release = release

    async def on_stop(self) -> None:
        if self.release is not None:
            await self.release.wait()

    @handler
    async def job(self, message: Job) -> None:
        self.journal.append(message.key)


async def test_a_durable_actor_keeps_what_is_told_while_it_stops_for_its_next_life(
    tmp_path: Path,
) -> None:
    """A durable mailbox stays open until the stop is over: a tell meanwhile is stored."""
    letters: list[DeadLetter] = []
    release = trio.Event()
    journal: list[int] = []
    store = tmp_path / "s.db"
    async with trouper.open_runtime(store=SqliteStore(store)) as rt:
        rt.dead_letters.listen(letters.append)
        async with trio.open_nursery() as nursery:
            ref = await rt.spawn(Keeper, journal, release, name="keeper", mailbox=Durable())
            nursery.start_soon(rt.stop, ref)
            await trio.testing.wait_all_tasks_blocked()  # in its on_stop
            assert await ref.tell(Job(7))
            release.set()
    assert letters == []
    assert journal == []
    async with trouper.open_runtime(store=SqliteStore(store)) as rt:
        await rt.spawn(Keeper, journal, None, name="keeper", mailbox=Durable())
        await trio.sleep(1)
    assert journal == [7]


async def test_a_failed_first_start_refuses_mail_while_its_children_stop() -> None:
    """on_start raised: what it told itself is a dead letter before its children have stopped."""
    letters: list[DeadLetter] = []
    release = trio.Event()

    class Failing(Actor):
        async def on_start(self) -> None:
            await self.ctx.spawn(Slow, [], release, name="child")
            await self.ctx.self_ref.tell(Job(1))
            raise RuntimeError("no start")

        @handler
        async def job(self, message: Job) -> None:
            pass

    async def spawn(rt: trouper.Runtime) -> None:
        with pytest.raises(
            trouper.StartFailed,
            match=r"^actor trouper://local/failing failed to start: RuntimeError\('no start'\)$",
        ):
            await rt.spawn(Failing, name="failing")

    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        nursery.start_soon(spawn, rt)
        await trio.testing.wait_all_tasks_blocked()  # its child waits in its on_stop
        assert _stopped(letters) == [Job(1)]
        release.set()


async def test_timers_on_the_context_of_a_stopped_actor_raise() -> None:
    """send_later and every on a kept context raise: nothing would ever cancel the timer."""
    kept: list[trouper.Context] = []
    journal: list[int] = []

    class Counter(Actor):
        @handler
        async def job(self, message: Job) -> None:
            journal.append(message.key)

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Watcher, kept, name="watcher")
        counter = await rt.spawn(Counter, name="counter")
        await rt.stop(ref)
        [ctx] = kept
        exact = rf"^{re.escape(str(ActorStopped(ref.address)))}$"
        with pytest.raises(ActorStopped, match=exact):
            ctx.every(1, counter, Job(1))
        with pytest.raises(ActorStopped, match=exact):
            ctx.send_later(1, counter, Job(2))
        await trio.sleep(10)
        assert journal == []


class Unwatcher(Actor):
    """Watches ``other``; its ``on_stop`` waits for ``release``, then unwatches ``other``."""

    def __init__(self, other: trouper.ActorRef[object], release: trio.Event) -> None:
        self.other = other
        self.release = release

    async def on_start(self) -> None:
        self.ctx.watch(self.other)

    async def on_stop(self) -> None:
        await self.release.wait()
        self.ctx.unwatch(self.other)

    @handler
    async def terminated(self, message: Terminated) -> None:
        pass


async def test_an_unwatch_in_on_stop_withdraws_a_terminated_that_came_while_stopping() -> None:
    """The notice is kept aside while the stop runs, not a dead letter at once: unwatch drops it."""
    letters: list[DeadLetter] = []
    release = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.dead_letters.listen(letters.append)
        other = await rt.spawn(Idle, name="other")
        ref = await rt.spawn(Unwatcher, other, release, name="unwatcher")
        nursery.start_soon(rt.stop, ref)
        await trio.testing.wait_all_tasks_blocked()
        await rt.stop(other)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert letters == []
