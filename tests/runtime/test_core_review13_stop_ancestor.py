"""Review: an actor that stops (or restarts) one of its ancestors from its handler.

``rt.stop`` called by an actor on itself returns at once, the stop following
its handler; called on its parent, it waited for the parent's stop, which
waited for this very handler: the handler was cut off at its ``shutdown``
deadline (its asker got ``ActorStopped``), and with children of its own (no
deadline) the two waited for each other for good. ``rt.restart`` likewise.
"""

from __future__ import annotations

import trio
import trio.testing

import trouper
from trouper import Actor, handler


class Leaf(Actor):
    pass


class Worker(Actor):
    """Has a child of its own (its stop then has no deadline); stops or restarts its parent."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Leaf)

    @handler
    async def act(self, message: str) -> str:
        parent = self.ctx.parent
        assert parent is not None
        if message == "stop":
            await self.ctx.runtime.stop(parent)
        else:
            await self.ctx.runtime.restart(parent)
        return "done"


class Boss(Actor):
    def __init__(self, starts: list[float]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(trio.current_time())
        await self.ctx.spawn(Worker, name="worker")


async def test_a_child_stopping_its_parent_returns_and_the_parent_stops() -> None:
    """The child's handler returns at once; the parent, the child and its own child stop."""
    async with trouper.open_runtime() as rt:
        boss = await rt.spawn(Boss, [], name="boss")
        worker = rt.lookup("worker")
        assert worker is not None
        start = trio.current_time()
        with trio.fail_after(100):
            assert await worker.ask("stop") == "done"
            await rt.stop(boss)  # (already stopping: waits for the end of it)
        assert trio.current_time() == start
        assert rt.lookup("boss") is None
        assert rt.lookup("worker") is None
        assert list(rt.tree().walk()) == []


async def test_a_child_restarting_its_parent_returns_and_the_parent_restarts() -> None:
    """The child's handler returns at once; the parent restarts with a new child."""
    starts: list[float] = []
    async with trouper.open_runtime() as rt:
        await rt.spawn(Boss, starts, name="boss")
        worker = rt.lookup("worker")
        assert worker is not None
        with trio.fail_after(100):
            assert await worker.ask("restart") == "done"
            await trio.testing.wait_all_tasks_blocked()
        assert starts == [0.0, 0.0]
        assert rt.lookup("worker") is not None
