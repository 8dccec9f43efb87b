"""Final review: a stop that comes while its actor's asker waits on that actor's restart.

The parent's handler restarts the child whose ask it is answering: the child's
handler can never finish, and the restart's ``TERMINATE`` cuts it off. A stop
that comes first (the restart still queued behind another job of the
supervisor) must cut it off too: it waited for the handler, for good since
the child has a child of its own (no deadline), and so did the restart.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorState, handler
from trouper.errors import ActorStopped


class Leaf(Actor):
    pass


class Slow(Actor):
    """Takes ten seconds to end an instance: the supervisor's worker is busy meanwhile."""

    async def on_stop(self) -> None:
        await trio.sleep(10)


class Child(Actor):
    """Has a child of its own; asked anything, it asks its parent (which restarts it)."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Leaf)

    @handler
    async def go(self, message: str) -> object:
        parent = self.ctx.parent
        assert parent is not None
        return await parent.ask(1)


class Parent(Actor):
    async def on_start(self) -> None:
        await self.ctx.spawn(Slow, name="slow")
        self.child = await self.ctx.spawn(Child, name="child")

    @handler
    async def restart_asker(self, message: int) -> str:
        await self.ctx.runtime.restart(self.child)
        return "restarted"


async def test_a_stop_before_the_restart_cuts_off_the_handler_asking_the_waiter() -> None:
    """The child stops at once and its asker gets ActorStopped; the parent serves on."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Parent, name="parent")
        slow, child = rt.lookup("slow"), rt.lookup("child")
        assert slow is not None
        assert child is not None
        start = trio.current_time()
        asked: list[str] = []

        async def ask_child() -> None:
            with pytest.raises(ActorStopped):
                await child.ask("go")
            asked.append("ActorStopped")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.restart, slow)
            await trio.testing.wait_all_tasks_blocked()  # the worker ends the slow one
            nursery.start_soon(ask_child)
            await trio.testing.wait_all_tasks_blocked()  # the parent waits on the restart
            with trio.fail_after(100):
                await rt.stop(child)
            assert trio.current_time() == start
        assert asked == ["ActorStopped"]
        info = rt.tree().find("/parent")
        assert info is not None
        assert info.state is ActorState.RUNNING
