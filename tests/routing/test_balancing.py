"""Balancing pools: one shared mailbox, each message handled once by whichever member is free."""

from __future__ import annotations

from collections import Counter

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import (
    Actor,
    ActorStopped,
    EventKind,
    MailboxFull,
    OneForOne,
    UnhandledMessage,
    handler,
)
from trouper.routing import Balancing, members, resize
from trouper.runtime.lowlevel import cell_of


@attrs.frozen
class Job:
    id: int
    seconds: float = 0
    crash: bool = False


@attrs.frozen
class Unknown:
    pass


class Tally:
    """Job ids handled, by member; ``done`` once ``expected`` jobs are handled."""

    def __init__(self, expected: int) -> None:
        self.handled: list[tuple[str, int]] = []
        self.expected = expected
        self.done = trio.Event()

    def add(self, member: str, job: int) -> None:
        self.handled.append((member, job))
        if len(self.handled) == self.expected:
            self.done.set()


def other(member: str) -> str:
    """The other member of a pool of two."""
    return "member-2" if member == "member-1" else "member-1"


class Worker(Actor):
    """Sleeps the job's seconds, then counts it; crashes on request."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    @handler
    async def job(self, message: Job) -> str:
        member = self.ctx.self_ref.address.path.rpartition("/")[2]
        if message.seconds:
            await trio.sleep(message.seconds)
        if message.crash:
            raise RuntimeError(f"job {message.id} crashed")
        self.tally.add(member, message.id)
        return member


async def test_each_message_is_handled_exactly_once_and_work_is_spread() -> None:
    """1000 one-second jobs on 4 members: each once, 250 per member, done in 250 s."""
    tally = Tally(1000)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 4, tally, router=Balancing())
        start = trio.current_time()
        for i in range(1000):
            await pool.tell(Job(i, seconds=1))
        await tally.done.wait()
        assert trio.current_time() - start == 250
    assert sorted(job for _, job in tally.handled) == list(range(1000))
    assert Counter(member for member, _ in tally.handled) == {
        "member-1": 250,
        "member-2": 250,
        "member-3": 250,
        "member-4": 250,
    }


async def test_a_busy_member_does_not_hold_up_the_queue() -> None:
    """While one member works on a long job, the others take every other message."""
    tally = Tally(11)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, tally, router=Balancing())
        start = trio.current_time()
        await pool.tell(Job(0, seconds=100))
        for i in range(1, 11):
            await pool.tell(Job(i, seconds=1))
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(10.5)
        assert sorted(job for _, job in tally.handled) == list(range(1, 11))
        await tally.done.wait()
        assert trio.current_time() - start == 100
    (slow,) = [member for member, job in tally.handled if job == 0]
    assert all(member != slow for member, job in tally.handled if job != 0)


async def test_ask_is_answered_by_the_member_that_takes_it() -> None:
    """An ask goes into the shared queue; the member that takes it replies."""
    tally = Tally(2)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, tally, router=Balancing())
        await pool.tell(Job(0, seconds=5))
        answered_by = await pool.ask(Job(1))
        assert trio.current_time() == 0
        assert isinstance(answered_by, str)
        await tally.done.wait()
    # Which member parked first is the scheduler's choice; the busy one did not answer.
    assert sorted(tally.handled) == sorted([(answered_by, 1), (other(answered_by), 0)])


async def test_asking_an_unhandled_type_fails_at_once() -> None:
    """An ask of a type the members do not handle raises ``UnhandledMessage`` for the pool."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, Tally(0), router=Balancing(), name="jobs")
        with pytest.raises(
            UnhandledMessage,
            match=r"^actor trouper://local/jobs has no handler for test_balancing\.Unknown$",
        ):
            await pool.ask(Unknown())


async def test_tell_nowait_to_a_full_queue_raises_mailbox_full() -> None:
    """``tell_nowait`` refuses a message when the shared mailbox is full."""
    async with trouper.open_runtime(mailbox_size=2) as rt:
        pool = await rt.spawn_pool(Worker, 1, Tally(0), router=Balancing(), name="jobs")
        await pool.tell(Job(0, seconds=5))
        await trio.testing.wait_all_tasks_blocked()
        pool.tell_nowait(Job(1))
        pool.tell_nowait(Job(2))
        with pytest.raises(
            MailboxFull, match=r"^mailbox of trouper://local/jobs is full \(capacity 2 messages\)$"
        ):
            pool.tell_nowait(Job(3))


async def test_crashed_member_restarts_and_no_other_message_is_lost() -> None:
    """A member fails on one job: it restarts, and every other job is handled exactly once."""
    tally = Tally(99)
    restarted: list[str] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(
            lambda e: restarted.append(e.address.path) if e.kind is EventKind.RESTARTED else None
        )
        pool = await rt.spawn_pool(Worker, 3, tally, router=Balancing(), name="jobs")
        for i in range(100):
            await pool.tell(Job(i, seconds=1, crash=i == 10))
        await tally.done.wait()
    assert sorted(job for _, job in tally.handled) == [i for i in range(100) if i != 10]
    assert len(restarted) == 1
    assert restarted[0].startswith("/jobs/member-")
    assert [letter.message for letter in rt.dead_letters.recent] == [Job(10, 1, crash=True)]


async def test_shrinking_keeps_the_queue_for_the_remaining_members() -> None:
    """Removed members stop after their running job; queued jobs go to the members that stay."""
    tally = Tally(20)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 4, tally, router=Balancing())
        for i in range(20):
            await pool.tell(Job(i, seconds=1))
        await resize(pool, 1)
        assert [ref.address.path.rpartition("/")[2] for ref in await members(pool)] == ["member-1"]
        await tally.done.wait()
    assert sorted(job for _, job in tally.handled) == list(range(20))
    assert rt.dead_letters.count == 0


async def test_growing_adds_consumers_of_the_same_queue() -> None:
    """New members take from the shared queue as soon as they have started."""
    tally = Tally(8)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 1, tally, router=Balancing())
        start = trio.current_time()
        for i in range(8):
            await pool.tell(Job(i, seconds=1))
        await resize(pool, 4)
        await tally.done.wait()
        assert trio.current_time() - start == 2
    assert len({member for member, _ in tally.handled}) == 4


async def test_stopping_the_pool_turns_its_queue_into_dead_letters() -> None:
    """Stopped: queued jobs become dead letters to the pool, and a queued ask fails."""
    tally = Tally(1)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 1, tally, router=Balancing(), name="jobs")
        await pool.tell(Job(0, seconds=3))
        await pool.tell(Job(1))
        await pool.tell(Job(2))
        async with trio.open_nursery() as nursery:

            async def asker() -> None:
                with pytest.raises(ActorStopped, match=r"^actor trouper://local/jobs has stopped$"):
                    await pool.ask(Job(3))

            nursery.start_soon(asker)
            await trio.testing.wait_all_tasks_blocked()
            await rt.stop(pool)
    assert tally.handled == [("member-1", 0)]
    assert [(str(d.recipient), d.reason, d.message) for d in rt.dead_letters.recent] == [
        ("trouper://local/jobs", "actor stopped", Job(1)),
        ("trouper://local/jobs", "actor stopped", Job(2)),
        ("trouper://local/jobs", "actor stopped", Job(3)),
    ]


async def test_the_shared_queue_survives_a_restart_of_the_pool() -> None:
    """The pool gives up on its members and is restarted: the queued jobs are still handled."""
    tally = Tally(5)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(
            Worker, 1, tally, router=Balancing(strategy=OneForOne(max_restarts=0)), name="jobs"
        )
        pool.tell_nowait(Job(0, crash=True))
        for i in range(1, 6):
            pool.tell_nowait(Job(i))
        await tally.done.wait()
        assert cell_of(pool).restart_count == 1
    assert sorted(job for _, job in tally.handled) == [1, 2, 3, 4, 5]
