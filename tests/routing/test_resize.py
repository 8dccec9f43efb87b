"""Resizing pools at run time: ``Resize``, ``Members``, and what happens to queued messages."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorState, StartFailed, handler
from trouper.routing import Members, Resize, members, resize
from trouper.runtime.lowlevel import cell_of


@attrs.frozen
class Job:
    id: int


class Worker(Actor):
    """Journals (member, job id) once ``gate`` is open."""

    def __init__(self, journal: list[tuple[str, int]], gate: trio.Event | None = None) -> None:
        self.journal = journal
        self.gate = gate

    @handler
    async def job(self, message: Job) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.journal.append((self.ctx.self_ref.address.path.rpartition("/")[2], message.id))


class Fragile(Actor):
    """Fails to start once ``broken`` holds anything."""

    def __init__(self, broken: list[str]) -> None:
        self.broken = broken

    async def on_start(self) -> None:
        if self.broken:
            raise OSError("no more room")


def ids(refs: tuple[trouper.ActorRef[object], ...]) -> list[str]:
    return [ref.address.path.rpartition("/")[2] for ref in refs]


async def test_members_lists_member_refs_in_order() -> None:
    """``Members()`` (and ``members``) answer the members' refs, member-1 first."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 3, [], name="pool")
        refs = await pool.ask(Members())
        assert [str(ref.address) for ref in refs] == [
            "trouper://local/pool/member-1",
            "trouper://local/pool/member-2",
            "trouper://local/pool/member-3",
        ]
        assert await members(pool) == refs


async def test_growing_starts_new_members_that_take_their_turn() -> None:
    """From 2 to 4 members: the new ones start and round-robin covers all four."""
    journal: list[tuple[str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, journal)
        await resize(pool, 4)
        assert ids(await members(pool)) == ["member-1", "member-2", "member-3", "member-4"]
        for i in range(8):
            await pool.tell(Job(i))
        await trio.testing.wait_all_tasks_blocked()
    assert sorted({member for member, _ in journal}) == [
        "member-1",
        "member-2",
        "member-3",
        "member-4",
    ]
    assert sorted(job for _, job in journal) == list(range(8))


async def test_shrinking_stops_the_highest_numbered_members() -> None:
    """From 4 to 2 members: member-3 and member-4 stop for good; the others stay."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 4, [])
        before = await members(pool)
        await resize(pool, 2)
        assert await members(pool) == before[:2]
        assert [cell_of(ref).state for ref in before] == [
            ActorState.RUNNING,
            ActorState.RUNNING,
            ActorState.STOPPED,
            ActorState.STOPPED,
        ]


async def test_shrinking_routes_the_removed_members_queues_to_the_others() -> None:
    """Round-robin: what waited in a removed member's mailbox is handled by those that stay."""
    journal: list[tuple[str, int]] = []
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 3, journal, gate)
        for i in range(12):
            pool.tell_nowait(Job(i))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(resize, pool, 1)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert sorted(job for _, job in journal) == list(range(12))
    # member-2 and member-3 finish the job they had started; member-1 does the rest.
    assert sorted(job for member, job in journal if member != "member-1") == [1, 2]
    assert rt.dead_letters.count == 0


async def test_growing_after_shrinking_reuses_the_lowest_free_numbers() -> None:
    """New members take the lowest numbers not in use."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 3, [])
        await rt.stop((await members(pool))[1])
        await trio.testing.wait_all_tasks_blocked()
        assert ids(await members(pool)) == ["member-1", "member-3"]
        await resize(pool, 4)
        assert ids(await members(pool)) == ["member-1", "member-2", "member-3", "member-4"]


async def test_resize_to_the_same_size_changes_nothing() -> None:
    """Resizing to the current size keeps the same members."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, [])
        before = await members(pool)
        await resize(pool, 2)
        assert await members(pool) == before


async def test_a_told_resize_is_carried_out_by_the_pool() -> None:
    """``tell(Resize(n))`` reaches the pool itself, not a member."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 1, [])
        await pool.tell(Resize(3))
        pool.tell_nowait(Resize(2))
        await trio.testing.wait_all_tasks_blocked()
        assert ids(await members(pool)) == ["member-1", "member-2"]


async def test_resize_rejects_a_bad_size() -> None:
    """``resize`` takes an int >= 1."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 1, [])
        with pytest.raises(ValueError, match=r"^size must be an int >= 1, got 0$"):
            await resize(pool, 0)


async def test_a_member_that_cannot_start_fails_the_resize_only() -> None:
    """Growing stops at a member whose start fails: the ask raises, the pool goes on."""
    broken: list[str] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Fragile, 2, broken, name="pool")
        broken.append("now")
        with pytest.raises(
            StartFailed,
            match=r"^actor trouper://local/pool/member-3 failed to start: "
            r"OSError\('no more room'\)$",
        ):
            await resize(pool, 4)
        assert ids(await members(pool)) == ["member-1", "member-2"]
        broken.clear()
        await resize(pool, 3)
        assert ids(await members(pool)) == ["member-1", "member-2", "member-3"]


async def test_senders_waiting_on_a_removed_members_full_mailbox_get_through() -> None:
    """A sender parked on a removed member's full mailbox returns; its message is routed again."""
    journal: list[tuple[str, int]] = []
    gate = trio.Event()
    async with trouper.open_runtime(mailbox_size=1) as rt:
        pool = await rt.spawn_pool(Worker, 2, journal, gate)
        for i in range(4):  # two in hand, one queued per member: both mailboxes full
            pool.tell_nowait(Job(i))
            await trio.testing.wait_all_tasks_blocked()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pool.tell, Job(4))  # parks on member-1
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(pool.tell, Job(5))  # parks on member-2
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(resize, pool, 1)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert sorted(job for _, job in journal) == list(range(6))
    assert [job for member, job in journal if member == "member-2"] == [1]
    assert rt.dead_letters.count == 0


async def test_a_member_whose_factory_raises_fails_the_resize_with_that_error() -> None:
    """A new member's factory error is the resize's answer, as it is; the pool goes on."""
    made: list[int] = []

    def factory() -> Worker:
        made.append(1)
        if len(made) > 1:
            raise LookupError("no more workers")
        return Worker([])

    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(factory, 1)
        with pytest.raises(LookupError, match=r"^no more workers$"):
            await resize(pool, 2)
        assert ids(await members(pool)) == ["member-1"]
