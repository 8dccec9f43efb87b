"""Review 8: a spawn from asyncio cancelled once the actor started leaves no actor behind.

asyncio can cancel a task whose awaited future already holds its result (the
cancellation lands before the task resumes), or cancel it while Trio's spawn
returns, too late for Trio to undo it: either way the caller sees
``CancelledError`` and never the ref, so nobody could stop the actor. A
cancelled call leaves nothing done, as ``AioRuntime.subscribe`` does.
"""

from __future__ import annotations

import asyncio

import pytest
import trio
from aio_actors import run, until

from trouper import Actor
from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


class Starts(Actor):
    """Notes in ``started`` that its ``on_start`` ran (and returned: nothing follows)."""

    def __init__(self, started: list[bool]) -> None:
        self.started = started

    async def on_start(self) -> None:
        self.started.append(True)


def test_a_spawn_cancelled_after_the_actor_started_is_undone() -> None:
    """Cancelled between the actor's start and the caller's resuming: the actor is stopped."""

    async def main() -> tuple[bool, bool]:
        async with open_runtime() as rt:
            started: list[bool] = []
            spawning = asyncio.create_task(rt.spawn(Starts, started, name="late"))
            await until(lambda: bool(started))  # started in Trio; the caller not yet resumed
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
