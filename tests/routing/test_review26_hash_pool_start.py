"""Review 26: a consistent-hash pool's ring is updated, not rebuilt, as members join and leave.

Every member that joined (each of a starting pool's, one by one) rebuilt the
whole ring, hashing ``virtual_nodes`` points for every member again: starting
a pool of n members cost n * n * ``virtual_nodes`` key hashes, all in one Trio
step (a pool of 200 took 8 s, during which no actor ran, nor the asyncio
loop of a ``trouper.aio`` runtime). Each member's points are now hashed once
and merged into the ring; the ring is the one ``HashRing.build`` makes.
"""

from __future__ import annotations

import time

import attrs

import trouper
from trouper import Actor, Request, handler
from trouper.routing import ConsistentHash, HashRing, members, resize

MEMBERS = 200
SECONDS = 2.0
"""Real seconds the start of a pool of ``MEMBERS`` may take (it took 8 s; now ~0.1 s)."""


@attrs.frozen
class Where(Request[str]):
    key: str


class Member(Actor):
    """Replies with its member id."""

    @handler
    async def where(self, message: Where) -> str:
        return self.ctx.self_ref.address.path.rpartition("/")[2]


def key_of(message: object) -> object:
    assert isinstance(message, Where)
    return message.key


KEYS = [f"user-{i}" for i in range(60)]


async def placed(pool: trouper.ActorRef[object]) -> None:
    """Every key reaches the member that ``HashRing.build`` over the members gives it."""
    ids = [ref.address.path.rpartition("/")[2] for ref in await members(pool)]
    ring = HashRing.build(ids, virtual_nodes=7)
    for key in KEYS:
        assert await pool.ask(Where(key)) == ring.owner(key)


async def test_a_large_hash_pool_starts_without_rebuilding_its_ring_per_member() -> None:
    """200 members start within 2 s of real time (each join hashed every member again: 8 s)."""
    async with trouper.open_runtime() as rt:
        start = time.perf_counter()
        pool = await rt.spawn_pool(Member, MEMBERS, router=ConsistentHash(key_of))
        elapsed = time.perf_counter() - start
        assert elapsed < SECONDS, f"{MEMBERS} members took {elapsed:.1f} s to start"
        assert len(await members(pool)) == MEMBERS


async def test_the_ring_after_joins_and_leaves_is_the_one_built_from_the_members() -> None:
    """Grown, shrunk, grown again, a member replaced: placement is HashRing.build's."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 3, router=ConsistentHash(key_of, virtual_nodes=7))
        await placed(pool)
        await resize(pool, 6)
        await placed(pool)
        await resize(pool, 2)
        await placed(pool)
        await resize(pool, 5)
        await placed(pool)
        second = (await members(pool))[1]
        await rt.stop(second)
        # A new member-2 (another cell under the same id), with no message routed between.
        await resize(pool, 5)
        await placed(pool)
