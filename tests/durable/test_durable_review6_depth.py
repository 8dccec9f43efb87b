"""A durable mailbox's depth, reviewed: the tree shows the stored messages, not the window."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, GiveUp


class Gated(trouper.Actor):
    """Waits on ``gate`` in each handler; a total of 0 is given up (dead-lettered)."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.gate.wait()
        if message.total == 0:
            raise GiveUp("nothing to charge")


async def _depths(rt: trouper.Runtime, name: str) -> tuple[int | None, int]:
    """The mailbox depth ``rt.tree()`` shows for ``name``, and the store's, after a flush."""
    await rt.store.flush()
    await trio.testing.wait_all_tasks_blocked()
    info = rt.tree().find(f"/{name}")
    (box,) = await rt.store.mailbox_statistics()
    return (None if info is None else info.mailbox_depth), box.depth


async def test_the_tree_shows_every_stored_message_beyond_the_prefetch_window(
    tmp_path: Path,
) -> None:
    """200 stored, 16 prefetched, 1 being handled: the tree says 200, as the store does."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db", threads=False)) as rt:
        gate = trio.Event()
        ref = await rt.spawn(Gated, gate, name="billing", mailbox=Durable(prefetch=16))
        for number in range(200):
            await ref.tell(Charge(f"o-{number}", number + 1))
        assert await _depths(rt, "billing") == (200, 200)
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert await _depths(rt, "billing") == (0, 0)


async def test_the_depth_counts_messages_stored_before_the_actor_started(
    tmp_path: Path,
) -> None:
    """Messages found stored at the start count, and a dead-letter move takes its one away."""
    path = tmp_path / "s.db"
    async with trouper.open_runtime(store=sqlite(path, threads=False)) as rt:
        ref = trouper.durable.durable_ref(rt, "billing")
        for number in range(40):
            await ref.tell(Charge(f"o-{number}", number))
    async with trouper.open_runtime(store=sqlite(path, threads=False)) as rt:
        gate = trio.Event()
        await rt.spawn(Gated, gate, name="billing", mailbox=Durable(prefetch=8))
        assert await _depths(rt, "billing") == (40, 40)
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert await _depths(rt, "billing") == (0, 0)
        dead = [letter.message async for letter in rt.store.dead_letters("billing")]
    assert dead == [Charge("o-0", 0)]
