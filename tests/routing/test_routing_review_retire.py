"""Shrinking a pool: senders parked on a removed member's mailbox get through, whatever it holds."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trouper import Actor, Runtime, handler
from trouper.routing import ConsistentHash, RoundRobin, Router, members, resize


@attrs.frozen
class Job:
    id: int
    seconds: float = 0


class Worker(Actor):
    """Sleeps the job's seconds, then journals (member, job id)."""

    def __init__(self, journal: list[tuple[str, int]]) -> None:
        self.journal = journal

    @handler
    async def job(self, message: Job) -> None:
        await trio.sleep(message.seconds)
        self.journal.append((self.ctx.self_ref.address.path.rpartition("/")[2], message.id))


@pytest.mark.parametrize("router", [RoundRobin(), ConsistentHash(lambda m: 0)], ids=repr)
@pytest.mark.trouper(mailbox_size=1)
async def test_a_sender_parked_while_the_removed_member_is_busy_is_routed_again(
    runtime: Runtime, router: Router
) -> None:
    """The member took its last queued job and is busy: the parked sender's job is not lost."""
    journal: list[tuple[str, int]] = []
    pool = await runtime.spawn_pool(Worker, 2, journal, router=router)
    _, second = await members(pool)
    results: list[bool] = []

    async def tell(job: Job) -> None:
        results.append(await second.tell(job))

    async with trio.open_nursery() as nursery:
        await second.tell(Job(1, seconds=1))  # in hand
        await second.tell(Job(2, seconds=3))  # queued: the mailbox is full
        nursery.start_soon(tell, Job(3))  # parks
        await trio.sleep(1.5)  # job 2 is in hand now, the mailbox empty, job 3 still parked
        await resize(pool, 1)
    await trio.testing.wait_all_tasks_blocked()
    assert results == [True]
    assert sorted(journal) == [("member-1", 3), ("member-2", 1), ("member-2", 2)]
    assert runtime.dead_letters.count == 0
