"""A hash pool growing while asks of many keys are queued, in hand and parked on full mailboxes."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trouper import Actor, Runtime, handler
from trouper.routing import ConsistentHash, HashRing, members, resize

KEYS = range(16)
RINGS = {size: HashRing.build([f"member-{n}" for n in range(1, size + 1)]) for size in (2, 3, 4)}


@attrs.frozen
class Keyed:
    key: int
    seq: int


class KeyWorker(Actor):
    """Journals (key, seq, member) as it starts a message, takes 1 s, replies (member, seq)."""

    def __init__(self, journal: list[tuple[int, int, str]]) -> None:
        self.journal = journal

    async def on_start(self) -> None:
        await trio.sleep(0.5)  # asks keep arriving while a new member starts

    @property
    def member(self) -> str:
        return self.ctx.self_ref.address.path.rpartition("/")[2]

    @handler
    async def keyed(self, message: Keyed) -> tuple[str, int]:
        self.journal.append((message.key, message.seq, self.member))
        await trio.sleep(1)
        return (self.member, message.seq)


def _key_of(message: object) -> object:
    return message.key if isinstance(message, Keyed) else 0


@pytest.mark.trouper(mailbox_size=3)
async def test_growing_a_hash_pool_under_asks_keeps_each_keys_order_and_answers_all(
    runtime: Runtime,
) -> None:
    """2 -> 4 members with asks in flight: each key in order, owner by owner, none lost."""
    journal: list[tuple[int, int, str]] = []
    pool = await runtime.spawn_pool(KeyWorker, 2, journal, router=ConsistentHash(_key_of))
    replies: dict[tuple[int, int], tuple[str, int]] = {}

    async def ask(key: int, seq: int) -> None:
        reply = await pool.ask(Keyed(key, seq))
        assert isinstance(reply, tuple)
        replies[key, seq] = reply

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for seq in range(3):
                for key in KEYS:
                    nursery.start_soon(ask, key, seq)
                    await trio.testing.wait_all_tasks_blocked()  # queued (or parked) in order
            # Two members in hand, six asks queued, forty parked on full mailboxes.
            await resize(pool, 4)  # member-3 then member-4 start, 0.5 s each
            assert len(await members(pool)) == 4
            for key in KEYS:
                nursery.start_soon(ask, key, 3)
                await trio.testing.wait_all_tasks_blocked()

    assert sorted(replies) == [(key, seq) for key in KEYS for seq in range(4)]
    for key in KEYS:
        handled = [(seq, member) for k, seq, member in journal if k == key]
        # Each key's messages start one after another in the order they were asked...
        assert [seq for seq, _ in handled] == [0, 1, 2, 3], key
        # ...each answered by the member that handled it...
        assert [replies[key, seq] for seq, _ in handled] == [(m, s) for s, m in handled], key
        # ...by owners the rings name as the pool grew, never going back to one it left...
        owners = [member for _, member in handled]
        runs = [m for i, m in enumerate(owners) if i == 0 or owners[i - 1] != m]
        assert len(runs) == len(set(runs)), (key, owners)
        assert set(owners) <= {RINGS[size].owner(key) for size in (2, 3, 4)}, (key, owners)
        # ...and once grown, the key's member is the four members' ring owner.
        assert owners[-1] == RINGS[4].owner(key), (key, owners)
    moved = {key for key in KEYS if RINGS[4].owner(key) != RINGS[2].owner(key)}
    kept = set(KEYS) - moved
    assert moved, "no key moved: the test proves nothing"
    assert kept, "every key moved: the test proves nothing of the others"
    for key in kept:  # growing moves keys only to the new members
        assert {member for k, _, member in journal if k == key} == {RINGS[2].owner(key)}, key
    assert runtime.dead_letters.count == 0
