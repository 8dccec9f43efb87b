"""Review: a stop waited on by the actor its target's handler is asking cuts that handler off.

A child whose handler asks its ``Supervisor`` to stop it (``StopChild`` of its
own id, as OTP code calls ``supervisor:terminate_child``) waits on the reply;
the supervisor's handler waits for the child's stop, which waited for the
child's handler: cut off only at its ``shutdown`` deadline, and never when the
child has children of its own (no deadline). The handler can never finish: the
stop cuts it off at once (its asker gets ``ActorStopped``) and goes on.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorState, ChildSpec, handler
from trouper.errors import ActorStopped
from trouper.runtime import StopChild, Supervisor, WhichChildren


class Leaf(Actor):
    pass


class Quitter(Actor):
    """Has a child of its own; asked anything, it asks its supervisor to stop it."""

    def __init__(self, stopped: list[float]) -> None:
        self.stopped = stopped

    async def on_start(self) -> None:
        await self.ctx.spawn(Leaf)

    async def on_stop(self) -> None:
        self.stopped.append(trio.current_time())

    @handler
    async def quit(self, message: str) -> str:
        supervisor = self.ctx.parent
        assert supervisor is not None
        await supervisor.ask(StopChild("quitter"))
        return "unreachable"


async def test_a_child_asking_its_supervisor_to_stop_it_is_stopped_at_once() -> None:
    """The child's asker gets ActorStopped at once; on_stop runs; the supervisor serves on."""
    stopped: list[float] = []
    async with trouper.open_runtime() as rt:
        supervisor = await rt.spawn(
            Supervisor, [ChildSpec("quitter", Quitter, args=(stopped,))], name="sup"
        )
        quitter = rt.find("/sup/quitter")
        assert quitter is not None
        start = trio.current_time()
        with trio.fail_after(100), pytest.raises(ActorStopped):
            await quitter.ask("quit")
        assert trio.current_time() == start
        await trio.testing.wait_all_tasks_blocked()
        assert stopped == [start]
        children = await supervisor.ask(WhichChildren())
        assert [(c.id, c.state) for c in children] == [("quitter", ActorState.STOPPED)]


class Child(Actor):
    """Has a child of its own; asked anything, it asks its parent (which restarts it)."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Leaf)

    @handler
    async def go(self, message: str) -> object:
        parent = self.ctx.parent
        assert parent is not None
        return await parent.ask(1)


class Restarter(Actor):
    def __init__(self, starts: list[float]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.child = await self.ctx.spawn(Child, name="child")

    @handler
    async def restart_asker(self, message: int) -> str:
        await self.ctx.runtime.restart(self.child)
        self.starts.append(trio.current_time())
        return "restarted"


async def test_restarting_the_actor_whose_ask_is_being_answered_cuts_its_handler_off() -> None:
    """The child's asker gets ActorStopped at once; the restart completes."""
    starts: list[float] = []
    async with trouper.open_runtime() as rt:
        await rt.spawn(Restarter, starts, name="parent")
        child = rt.lookup("child")
        assert child is not None
        start = trio.current_time()
        with trio.fail_after(100), pytest.raises(ActorStopped):
            await child.ask("go")
        await trio.testing.wait_all_tasks_blocked()
        assert starts == [start]
        info = rt.tree().find("/parent/child")
        assert info is not None
        assert info.restart_count == 1


class Slow(Actor):
    """Takes ten seconds to end an instance: its supervisor's worker is busy meanwhile."""

    async def on_stop(self) -> None:
        await trio.sleep(10)


class BusyRestarter(Restarter):
    """A ``Restarter`` with a slow child started before the one it restarts."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Slow, name="slow")
        await super().on_start()


async def test_a_stop_before_the_restart_cuts_off_the_handler_asking_the_waiter() -> None:
    """The child stops at once and its asker gets ActorStopped; the parent serves on."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(BusyRestarter, [], name="parent")
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
