"""A member that stops for good while the pool is busy: no message is routed to it meanwhile."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trouper import Actor, Runtime, handler
from trouper.routing import ConsistentHash, Resize, RoundRobin, Router, members
from trouper.runtime import DeadLetter


@attrs.frozen
class Job:
    key: int


@attrs.frozen
class Quit:
    pass


class Worker(Actor):
    """Journals its jobs; the third member started takes 10 s to start; stops on ``Quit``."""

    def __init__(self, journal: list[tuple[str, int]], starts: list[None]) -> None:
        self.journal = journal
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(None)
        if len(self.starts) == 3:
            await trio.sleep(10)

    @handler
    async def job(self, message: Job) -> None:
        self.journal.append((self.ctx.self_ref.address.path.rpartition("/")[2], message.key))

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()


@pytest.mark.parametrize(
    "router", [RoundRobin(), ConsistentHash(lambda m: getattr(m, "key", 0))], ids=repr
)
async def test_tells_while_the_pool_is_resizing_skip_a_member_that_stopped(
    runtime: Runtime, router: Router
) -> None:
    """Before the pool handles the member's Terminated, tells go to the members still alive."""
    journal: list[tuple[str, int]] = []
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    pool = await runtime.spawn_pool(Worker, 2, journal, [], router=router)
    first, _second = await members(pool)
    await pool.tell(Resize(3))  # the pool is busy starting member-3 for 10 s
    await trio.testing.wait_all_tasks_blocked()
    await first.tell(Quit())  # member-1 stops for good; the pool hears of it only in 10 s
    await trio.testing.wait_all_tasks_blocked()
    for key in range(20):
        await pool.tell(Job(key))
    await trio.testing.wait_all_tasks_blocked()
    assert letters == []
    assert sorted(key for _, key in journal) == list(range(20))
    assert {member for member, _ in journal} == {"member-2"}
