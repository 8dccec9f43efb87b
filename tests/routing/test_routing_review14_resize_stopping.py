"""Review 14: a resize counts the members that stay, not one whose stop for good is under way."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trouper import Actor, Runtime
from trouper.errors import ActorStopped, StartFailed
from trouper.routing import (
    Balancing,
    Broadcast,
    ConsistentHash,
    RoundRobin,
    Router,
    members,
    resize,
)


class SlowStop(Actor):
    """Takes anything; its ``on_stop`` waits for ``release``."""

    def __init__(self, release: trio.Event) -> None:
        self.release = release

    async def on_stop(self) -> None:
        await self.release.wait()

    async def receive(self, message: object) -> None:
        pass


ROUTERS = [RoundRobin(), Balancing(), ConsistentHash(repr), Broadcast()]


@pytest.mark.parametrize("router", ROUTERS, ids=repr)
@pytest.mark.parametrize("size", [2, 3, 4])
async def test_a_resize_during_a_members_stop_gives_the_size_asked(
    runtime: Runtime, router: Router, size: int
) -> None:
    """member-2 is in its on_stop when the pool is resized: the pool ends with ``size`` members."""
    release = trio.Event()
    pool = await runtime.spawn_pool(SlowStop, 3, release, router=router)
    _, second, _ = await members(pool)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runtime.stop, second)
        await trio.testing.wait_all_tasks_blocked()  # member-2 waits in its on_stop
        await resize(pool, size)
        release.set()
    await trio.testing.wait_all_tasks_blocked()  # the pool has handled member-2's Terminated
    assert len(await members(pool)) == size


class FailsLater(SlowStop):
    """A ``SlowStop`` whose ``on_start`` raises once ``failing`` is set."""

    def __init__(self, release: trio.Event, failing: trio.Event) -> None:
        super().__init__(release)
        self.failing = failing

    async def on_start(self) -> None:
        if self.failing.is_set():
            raise RuntimeError("cannot start")


async def test_a_pool_whose_stopping_members_cannot_be_replaced_stops(runtime: Runtime) -> None:
    """The only member is stopping and the resize's new member fails: the pool stops, none left."""
    release, failing = trio.Event(), trio.Event()
    pool = await runtime.spawn_pool(FailsLater, 1, release, failing)
    (only,) = await members(pool)
    failing.set()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runtime.stop, only)
        await trio.testing.wait_all_tasks_blocked()  # member-1 waits in its on_stop
        with pytest.raises(StartFailed):
            await resize(pool, 1)
        release.set()
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(ActorStopped):
        await members(pool)
