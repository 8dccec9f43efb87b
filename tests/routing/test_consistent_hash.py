"""Consistent-hash pools: the same key reaches the same member while the pool is unchanged."""

from __future__ import annotations

from collections import defaultdict

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.routing import ConsistentHash, HashRing, members, resize


@attrs.frozen
class Visit:
    user: str
    n: int


def user_of(message: object) -> object:
    assert isinstance(message, Visit)
    return message.user


class Counter(Actor):
    """Journals (member, user, n), once ``gate`` is open; replies with its member id."""

    def __init__(self, journal: list[tuple[str, str, int]], gate: trio.Event | None = None) -> None:
        self.journal = journal
        self.gate = gate

    @handler
    async def visit(self, message: Visit) -> str:
        member = self.ctx.self_ref.address.path.rpartition("/")[2]
        if self.gate is not None:
            await self.gate.wait()
        self.journal.append((member, message.user, message.n))
        return member


USERS = [f"user-{i}" for i in range(20)]


def placement(journal: list[tuple[str, str, int]]) -> dict[str, set[str]]:
    where: dict[str, set[str]] = defaultdict(set)
    for member, user, _ in journal:
        where[user].add(member)
    return dict(where)


async def test_a_key_always_reaches_the_same_member_in_order() -> None:
    """Over 400 messages, each user is handled by one member, in the order sent."""
    journal: list[tuple[str, str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 4, journal, router=ConsistentHash(user_of))
        for n in range(20):
            for user in USERS:
                await pool.tell(Visit(user, n))
        await trio.testing.wait_all_tasks_blocked()
    assert all(len(members) == 1 for members in placement(journal).values())
    for user in USERS:
        assert [n for _, u, n in journal if u == user] == list(range(20))


async def test_keys_land_where_the_hash_ring_says() -> None:
    """The member for a key is the ring's owner of that key over the members' ids."""
    journal: list[tuple[str, str, int]] = []
    ring = HashRing.build(["member-1", "member-2", "member-3"])
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 3, journal, router=ConsistentHash(user_of))
        for user in USERS:
            pool.tell_nowait(Visit(user, 0))
        await trio.testing.wait_all_tasks_blocked()
    assert placement(journal) == {user: {ring.owner(user)} for user in USERS}
    assert len({ring.owner(user) for user in USERS}) == 3


async def test_ask_is_answered_by_the_keys_member() -> None:
    """An ask goes to the key's member, whose reply comes back."""
    ring = HashRing.build(["member-1", "member-2", "member-3"])
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 3, [], router=ConsistentHash(user_of))
        for user in USERS:
            assert await pool.ask(Visit(user, 0)) == ring.owner(user)


async def test_shrinking_moves_only_the_removed_members_keys() -> None:
    """From 4 to 3 members: users of members 1-3 stay put; member 4's spread over the rest."""
    journal: list[tuple[str, str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 4, journal, router=ConsistentHash(user_of))
        for user in USERS:
            await pool.tell(Visit(user, 0))
        await trio.testing.wait_all_tasks_blocked()
        before = {user: members.pop() for user, members in placement(journal).items()}
        journal.clear()
        await resize(pool, 3)
        for user in USERS:
            await pool.tell(Visit(user, 1))
        await trio.testing.wait_all_tasks_blocked()
        after = {user: members.pop() for user, members in placement(journal).items()}
    assert "member-4" in before.values()
    for user in USERS:
        assert after[user] == before[user] or before[user] == "member-4"


async def test_growing_back_restores_the_placement() -> None:
    """Shrinking then growing to the same size reuses the ids, so keys go back home."""
    journal: list[tuple[str, str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 4, journal, router=ConsistentHash(user_of))
        for user in USERS:
            await pool.tell(Visit(user, 0))
        await trio.testing.wait_all_tasks_blocked()
        before = placement(journal)
        await resize(pool, 2)
        await resize(pool, 4)
        journal.clear()
        for user in USERS:
            await pool.tell(Visit(user, 1))
        await trio.testing.wait_all_tasks_blocked()
        assert [ref.address.path for ref in await members(pool)] == [
            f"{pool.address.path}/member-{i}" for i in range(1, 5)
        ]
    assert placement(journal) == before


async def test_queued_messages_of_a_removed_member_are_routed_again() -> None:
    """Shrinking hands the removed members' queues to the key's new member; none is lost."""
    journal: list[tuple[str, str, int]] = []
    gate = trio.Event()
    ring = HashRing.build(["member-1", "member-2", "member-3", "member-4"])
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 4, journal, gate, router=ConsistentHash(user_of))
        for user in USERS:
            pool.tell_nowait(Visit(user, 0))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(resize, pool, 1)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        await trio.testing.wait_all_tasks_blocked()
    first: dict[str, str] = {}
    for member, user, _ in journal:
        first.setdefault(member, user)
    # Each member was busy with its first user; the rest of its queue moved to member-1.
    assert sorted(user for _, user, _ in journal) == sorted(USERS)
    assert {member: {user for m, user, _ in journal if m == member} for member in first} == {
        member: (
            {first[member]}
            if member != "member-1"
            else {u for u in USERS if u not in first.values() or ring.owner(u) == "member-1"}
        )
        for member in first
    }
    assert rt.dead_letters.count == 0


async def test_an_error_in_the_key_function_reaches_the_sender() -> None:
    """If ``key`` raises, ``tell`` raises it and nothing is sent."""

    def broken(message: object) -> object:
        raise KeyError("no user")

    journal: list[tuple[str, str, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 2, journal, router=ConsistentHash(broken))
        with pytest.raises(KeyError, match=r"^'no user'$"):
            await pool.tell(Visit("ann", 0))
        await trio.testing.wait_all_tasks_blocked()
    assert journal == []
    assert rt.dead_letters.count == 0


async def test_growing_keeps_the_order_of_each_key_that_moves() -> None:
    """From 2 to 4 members: a moved key's queued messages go first to its new member."""
    journal: list[tuple[str, str, int]] = []
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Counter, 2, journal, gate, router=ConsistentHash(user_of))
        for n in range(3):
            for user in USERS:
                pool.tell_nowait(Visit(user, n))
        await trio.testing.wait_all_tasks_blocked()  # each member is busy with its first visit
        await resize(pool, 4)
        for user in USERS:
            await pool.tell(Visit(user, 3))
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    busy: dict[str, str] = {}
    for member, user, _ in journal:
        busy.setdefault(member, user)
    in_flight = {busy["member-1"], busy["member-2"]}  # taken before the resize
    moved = {user for member, user, n in journal if n == 3 and member in ("member-3", "member-4")}
    assert moved - in_flight, "no key moved: the test proves nothing"
    for user in set(USERS) - in_flight:
        assert [n for _, u, n in journal if u == user] == [0, 1, 2, 3], user
    assert rt.dead_letters.count == 0
