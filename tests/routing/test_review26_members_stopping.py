"""Review 26: ``members(pool)`` leaves out a member whose stop for good has begun.

Such a member has left the pool: the router passes it over, and ``Resize``
does not count it. ``Members`` still listed it until the pool handled its
``Terminated`` (after its ``on_stop``), so ``resize(pool, len(await
members(pool)))`` grew the pool by one. ``Members`` now answers the members
that stay, as ``Resize`` counts them.
"""

from __future__ import annotations

import trio
import trio.testing

from trouper import Actor, ActorRef, Runtime, handler
from trouper.routing import members, resize


class SlowToStop(Actor):
    """Takes 5 s in ``on_stop``."""

    async def on_stop(self) -> None:
        await trio.sleep(5)

    @handler
    async def job(self, message: int) -> None:
        pass


def ids(refs: tuple[ActorRef[object], ...]) -> list[str]:
    return [ref.address.path.rpartition("/")[2] for ref in refs]


async def test_a_stopping_member_is_not_listed(runtime: Runtime) -> None:
    """While member-1 runs its on_stop, members() lists member-2 and member-3 only."""
    pool = await runtime.spawn_pool(SlowToStop, 3)
    first = (await members(pool))[0]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runtime.stop, first)
        await trio.sleep(1)
        assert ids(await members(pool)) == ["member-2", "member-3"]
    assert ids(await members(pool)) == ["member-2", "member-3"]


async def test_resizing_to_the_listed_count_keeps_the_pool_as_it_is(runtime: Runtime) -> None:
    """resize(pool, len(members)) during a member's stop leaves two members, not three."""
    pool = await runtime.spawn_pool(SlowToStop, 3)
    first = (await members(pool))[0]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runtime.stop, first)
        await trio.sleep(1)
        await resize(pool, len(await members(pool)))
    await trio.testing.wait_all_tasks_blocked()
    assert ids(await members(pool)) == ["member-2", "member-3"]


async def test_the_pool_still_stops_when_its_last_member_has_gone(runtime: Runtime) -> None:
    """members() read during the last member's stop lists none; the pool stops after it."""
    pool = await runtime.spawn_pool(SlowToStop, 1, name="solo")
    only = (await members(pool))[0]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runtime.stop, only)
        await trio.sleep(1)
        assert await members(pool) == ()
    await trio.testing.wait_all_tasks_blocked()
    assert runtime.lookup("solo") is None
