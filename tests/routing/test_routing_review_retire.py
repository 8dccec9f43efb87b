"""Shrinking a pool: senders parked on a removed member's mailbox get through, whatever it holds."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trouper import Actor, Runtime, handler
from trouper.routing import ConsistentHash, HashRing, RoundRobin, Router, members, resize


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


@attrs.frozen
class Keyed:
    key: int
    seq: int
    seconds: float = 0


class KeyWorker(Actor):
    """Sleeps the message's seconds, then journals (member, seq)."""

    def __init__(self, journal: list[tuple[str, int]]) -> None:
        self.journal = journal

    @handler
    async def keyed(self, message: Keyed) -> None:
        await trio.sleep(message.seconds)
        self.journal.append((self.ctx.self_ref.address.path.rpartition("/")[2], message.seq))


def _key_moving_from_2_to_3() -> int:
    """A key member-2 owns among two members, and member-3 among three."""
    two = HashRing.build(["member-1", "member-2"])
    three = HashRing.build(["member-1", "member-2", "member-3"])
    return next(
        k for k in range(1000) if two.owner(k) == "member-2" and three.owner(k) == "member-3"
    )


@pytest.mark.trouper(mailbox_size=1)
async def test_a_sender_parked_behind_moved_keys_survives_the_members_removal(
    runtime: Runtime,
) -> None:
    """Growing moves member-2's queue away but not its parked sender; shrinking still routes it."""
    key = _key_moving_from_2_to_3()
    journal: list[tuple[str, int]] = []
    pool = await runtime.spawn_pool(
        KeyWorker, 2, journal, router=ConsistentHash(lambda m: getattr(m, "key", 0))
    )
    results: list[bool] = []

    async def tell(message: Keyed) -> None:
        results.append(await pool.tell(message))

    async with trio.open_nursery() as nursery:
        await pool.tell(Keyed(key, 0, seconds=1))  # in member-2's hand
        await pool.tell(Keyed(key, 1))  # queued: member-2's mailbox is full
        nursery.start_soon(tell, Keyed(key, 2))  # parks on member-2
        await trio.testing.wait_all_tasks_blocked()
        await resize(pool, 3)  # the key moves: seq 1 goes to member-3, seq 2 stays parked
        await resize(pool, 1)
    await trio.testing.wait_all_tasks_blocked()
    assert results == [True]
    assert sorted(seq for _, seq in journal) == [0, 1, 2]
    assert runtime.dead_letters.count == 0
