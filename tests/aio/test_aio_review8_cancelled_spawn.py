"""Review 8: a spawn from asyncio cancelled once the actor started leaves no actor behind.

asyncio can cancel a task whose awaited future already holds its result (the
cancellation lands before the task resumes), or cancel it while Trio's spawn
returns, too late for Trio to undo it: either way the caller sees
``CancelledError`` and never the ref, so nobody could stop the actor. A
cancelled call leaves nothing done, as ``AioRuntime.subscribe`` does. So for a
pool (review 12): ``rt.run(rt.runtime.spawn_pool, ...)`` had nothing to undo one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import trio
from aio_actors import Starts, run, until

from trouper.aio import AioRef, AioRuntime, open_runtime

pytestmark = pytest.mark.real_clock

Spawn = Callable[[AioRuntime, list[bool]], Awaitable[AioRef[object]]]


@pytest.mark.parametrize(
    ("spawn", "members"),
    [
        (lambda rt, started: rt.spawn(Starts, started, name="late"), 1),
        (lambda rt, started: rt.spawn_pool(Starts, 2, started, name="late"), 2),
    ],
    ids=["actor", "pool"],
)
def test_a_spawn_cancelled_after_the_actor_started_is_undone(spawn: Spawn, members: int) -> None:
    """Cancelled between the start (every member's) and the caller's resuming: it is stopped."""

    async def main() -> tuple[bool, bool]:
        async with open_runtime() as rt:
            started: list[bool] = []
            spawning = asyncio.ensure_future(spawn(rt, started))
            await until(lambda: len(started) == members)  # started in Trio; caller not resumed
            spawning.cancel()
            await asyncio.wait({spawning})
            await rt.run_sync(lambda: None)  # after anything the cancellation queued
            await rt.run(trio.testing.wait_all_tasks_blocked)  # and the stop it began
            return spawning.cancelled(), rt.lookup("late") is None

    assert run(main) == (True, True)


class CancelAtExit(trio.abc.Instrument):
    """Cancels ``task`` from Trio as the first Trio task exits once ``started`` holds.

    That task is the call that ran the spawn: it has handed the ref to the
    caller, which asyncio has not resumed yet (Trio runs in the loop's thread).
    """

    def __init__(self, task: asyncio.Task[object], started: list[bool]) -> None:
        self.task = task
        self.started = started

    def task_exited(self, task: trio.lowlevel.Task) -> None:
        if self.started:
            trio.lowlevel.remove_instrument(self)
            self.task.cancel()


def test_a_spawn_cancelled_after_it_returned_the_ref_is_undone() -> None:
    """Cancelled once the ref was handed over, before the caller resumed: the actor is stopped."""

    async def main() -> tuple[bool, bool]:
        async with open_runtime() as rt:
            started: list[bool] = []
            spawning = asyncio.create_task(rt.spawn(Starts, started, name="late"))
            await rt.run_sync(trio.lowlevel.add_instrument, CancelAtExit(spawning, started))
            await asyncio.wait({spawning})
            await rt.run_sync(lambda: None)  # after anything the cancellation queued
            await rt.run(trio.testing.wait_all_tasks_blocked)  # and the stop it began
            return spawning.cancelled(), rt.lookup("late") is None

    assert run(main) == (True, True)
