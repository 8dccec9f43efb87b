"""Review 12: a pool spawned from asyncio and cancelled once it started leaves no pool behind.

The documented way, ``rt.run(rt.runtime.spawn_pool, ...)``, has nothing to undo a pool
whose caller was cancelled after Trio started it (the cancellation landing before the
caller resumed): the pool ran on with its name taken and nobody holding its ref.
``AioRuntime.spawn_pool`` undoes it as ``AioRuntime.spawn`` undoes an actor.
"""

from __future__ import annotations

import asyncio

import pytest
import trio
from aio_actors import run, until

from trouper import Actor
from trouper.aio import AioRef, open_runtime
from trouper.routing import Balancing, members

pytestmark = pytest.mark.real_clock


class Starts(Actor):
    """Notes in ``started`` that its ``on_start`` ran."""

    def __init__(self, started: list[bool]) -> None:
        self.started = started

    async def on_start(self) -> None:
        self.started.append(True)

    async def receive(self, message: object) -> object:
        return message


def test_a_pool_spawned_from_asyncio_routes_and_takes_the_options() -> None:
    """Options pass through (router, name); the handle asks a member."""

    async def main() -> tuple[int, bool, object]:
        async with open_runtime() as rt:
            started: list[bool] = []
            pool = await rt.spawn_pool(Starts, 3, started, router=Balancing(), name="jobs")
            assert isinstance(pool, AioRef)
            refs = await rt.run(members, pool.ref)
            return len(refs), rt.lookup("jobs") == pool, await pool.ask("hi")

    assert run(main) == (3, True, "hi")


def test_a_pool_spawn_cancelled_after_its_members_started_is_undone() -> None:
    """Cancelled once every member started, before the caller resumed: the pool is stopped."""

    async def main() -> tuple[bool, bool]:
        async with open_runtime() as rt:
            started: list[bool] = []
            spawning = asyncio.create_task(rt.spawn_pool(Starts, 2, started, name="late"))
            await until(lambda: len(started) == 2)  # started in Trio; the caller not yet resumed
            spawning.cancel()
            await asyncio.wait({spawning})
            await rt.run_sync(lambda: None)  # after anything the cancellation queued
            await rt.run(trio.testing.wait_all_tasks_blocked)  # and the stop it began
            return spawning.cancelled(), rt.lookup("late") is None

    assert run(main) == (True, True)


def test_a_pool_spawn_with_a_bad_size_raises_in_the_caller() -> None:
    """The pool's own refusal reaches the asyncio caller, and the runtime goes on."""

    async def main() -> str:
        async with open_runtime() as rt:
            with pytest.raises(ValueError, match=r"^size must be an int >= 1, got 0$"):
                await rt.spawn_pool(Starts, 0, [])
            return str(await (await rt.spawn(Starts, [])).ask("still"))

    assert run(main) == "still"
