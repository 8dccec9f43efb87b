"""Review 14: a round-robin pool's next turn is kept when another member leaves the pool."""

from __future__ import annotations

import attrs
import trio.testing

from trouper import Actor, Runtime, handler
from trouper.routing import members, resize


@attrs.frozen
class Job:
    number: int


class Worker(Actor):
    """Journals which member handled each job."""

    def __init__(self, journal: list[tuple[str, int]]) -> None:
        self.journal = journal

    @handler
    async def job(self, message: Job) -> None:
        self.journal.append((self.ctx.self_ref.address.path.rpartition("/")[2], message.number))


def order(journal: list[tuple[str, int]]) -> list[str]:
    return [member for member, _ in sorted(journal, key=lambda entry: entry[1])]


async def test_a_member_stopping_before_the_next_one_does_not_cost_it_its_turn(
    runtime: Runtime,
) -> None:
    """member-1 and member-2 had a job each, member-1 stops: member-3 is next, then 2, 3."""
    journal: list[tuple[str, int]] = []
    pool = await runtime.spawn_pool(Worker, 3, journal)
    first, _, _ = await members(pool)
    for number in range(2):
        await pool.tell(Job(number))
    await runtime.stop(first)
    await trio.testing.wait_all_tasks_blocked()  # the pool has handled its Terminated
    for number in range(2, 5):
        await pool.tell(Job(number))
    await trio.testing.wait_all_tasks_blocked()
    assert order(journal) == ["member-1", "member-2", "member-3", "member-2", "member-3"]


async def test_a_shrink_that_removes_the_next_member_starts_again_from_the_first(
    runtime: Runtime,
) -> None:
    """member-4 was next when the pool shrank to two: member-1 is next, as after member-4."""
    journal: list[tuple[str, int]] = []
    pool = await runtime.spawn_pool(Worker, 4, journal)
    for number in range(3):
        await pool.tell(Job(number))
    await resize(pool, 2)
    for number in range(3, 6):
        await pool.tell(Job(number))
    await trio.testing.wait_all_tasks_blocked()
    assert order(journal)[3:] == ["member-1", "member-2", "member-1"]
