"""Growing a hash pool moves a key's queued and parked messages to its new owner, for good."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trouper import Actor, Runtime, handler
from trouper.routing import ConsistentHash, HashRing, resize


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
async def test_a_sender_parked_on_the_old_owner_follows_its_key(runtime: Runtime) -> None:
    """A moved key's queued and parked messages are all handled by the new owner, in order."""
    key = _key_moving_from_2_to_3()
    journal: list[tuple[str, int]] = []
    pool = await runtime.spawn_pool(
        KeyWorker, 2, journal, router=ConsistentHash(lambda m: getattr(m, "key", 0))
    )

    async def sender() -> None:
        await pool.tell(Keyed(key, 0, seconds=1))  # in member-2's hand
        await pool.tell(Keyed(key, 1))  # queued: member-2's mailbox is full
        await pool.tell(Keyed(key, 2, seconds=1))  # parks until the pool has grown
        await pool.tell(Keyed(key, 3))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        await resize(pool, 3)
    await trio.sleep(5)  # every handler has returned
    assert [seq for member, seq in journal if member == "member-2"] == [0]
    assert [seq for member, seq in journal if member == "member-3"] == [1, 2, 3]
    assert runtime.dead_letters.count == 0


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
