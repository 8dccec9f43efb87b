"""A broadcast pool's member that stops for good while the pool is busy gets nothing meanwhile."""

from __future__ import annotations

import attrs
import trio
import trio.testing

from trouper import Actor, ActorRef, Runtime, handler
from trouper.routing import Broadcast, Resize, members
from trouper.runtime import DeadLetter


@attrs.frozen
class Job:
    key: int


@attrs.frozen
class Name:
    pass


@attrs.frozen
class Quit:
    pass


class Worker(Actor):
    """Journals its jobs; the third member started takes 10 s to start; stops on ``Quit``."""

    def __init__(self, journal: list[tuple[str, int]], starts: list[None]) -> None:
        self.journal = journal
        self.starts = starts

    def _id(self) -> str:
        return self.ctx.self_ref.address.path.rpartition("/")[2]

    async def on_start(self) -> None:
        self.starts.append(None)
        if len(self.starts) == 3:
            await trio.sleep(10)

    @handler
    async def job(self, message: Job) -> None:
        self.journal.append((self._id(), message.key))

    @handler
    async def name(self, message: Name) -> str:
        return self._id()

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()


async def _pool_with_a_departed_member(
    runtime: Runtime, journal: list[tuple[str, int]]
) -> ActorRef[object]:
    pool = await runtime.spawn_pool(Worker, 2, journal, [], router=Broadcast())
    first, _second = await members(pool)
    await pool.tell(Resize(3))  # the pool is busy starting member-3 for 10 s
    await trio.testing.wait_all_tasks_blocked()
    await first.tell(Quit())  # member-1 stops for good; the pool hears of it only in 10 s
    await trio.testing.wait_all_tasks_blocked()
    return pool


async def test_broadcast_tells_skip_a_member_that_stopped(runtime: Runtime) -> None:
    """Before the pool handles the member's Terminated, tells reach the members still alive."""
    journal: list[tuple[str, int]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    pool = await _pool_with_a_departed_member(runtime, journal)
    assert await pool.tell(Job(1)) is True
    assert pool.tell_nowait(Job(2)) is True
    await trio.testing.wait_all_tasks_blocked()
    assert letters == []
    assert journal == [("member-2", 1), ("member-2", 2)]


async def test_broadcast_asks_skip_a_member_that_stopped(runtime: Runtime) -> None:
    """Before the pool handles the member's Terminated, an ask gathers the living members."""
    pool = await _pool_with_a_departed_member(runtime, [])
    with trio.fail_after(1):
        assert await pool.ask(Name()) == ["member-2"]
