"""A resize that a give-up of the pool's supervision interrupts."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trouper import Actor, ActorStopped, OneForOne, Runtime, handler
from trouper.routing import RoundRobin, members, resize


@attrs.frozen
class Crash:
    pass


class Worker(Actor):
    """Counts its starts (the second takes 1 s); fails on ``Crash``."""

    def __init__(self, starts: list[None]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(None)
        if len(self.starts) == 2:
            await trio.sleep(1)

    @handler
    async def crash(self, message: Crash) -> None:
        raise RuntimeError("boom")


async def test_a_resize_cut_short_by_a_give_up_raises_actor_stopped(runtime: Runtime) -> None:
    """The asker learns the pool restarts (ActorStopped), not the engine's internal refusal."""
    starts: list[None] = []
    pool = await runtime.spawn_pool(
        Worker, 1, starts, router=RoundRobin(strategy=OneForOne(max_restarts=0))
    )
    errors: list[ActorStopped] = []

    async def grow() -> None:
        with pytest.raises(ActorStopped) as caught:
            await resize(pool, 3)
        errors.append(caught.value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(grow)
        await trio.testing.wait_all_tasks_blocked()  # member-2 is starting
        await pool.tell(Crash())  # member-1 fails: the supervision gives up
    assert [error.address for error in errors] == [pool.address]
    await trio.testing.wait_all_tasks_blocked()
    assert len(await members(pool)) == 2  # restarted with the members it had
