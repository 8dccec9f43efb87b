"""Review: an actor whose ``on_start`` asks the handler that is spawning it gets ``AskCycle``.

The spawning handler waits for the child's ``on_start`` and takes no message
meanwhile, so the ask back could never be answered: both hung until the
runtime stopped, where a cycle of plain asks fails at once.
"""

from __future__ import annotations

import trio

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle, StartFailed


class AsksParentOnStart(Actor):
    async def on_start(self) -> None:
        parent = self.ctx.parent
        assert parent is not None
        await parent.ask(1)


class AsksThroughRelay(Actor):
    def __init__(self, relay: trouper.ActorRef[object]) -> None:
        self.relay = relay

    async def on_start(self) -> None:
        await self.relay.ask("parent")


class Parent(Actor):
    @handler
    async def number(self, message: int) -> int:
        return message + 1

    @handler
    async def spawn_child(self, message: str) -> object:
        try:
            if message == "direct":
                await self.ctx.spawn(AsksParentOnStart, name="child")
            else:
                relay = self.ctx.runtime.lookup("relay")
                assert relay is not None
                await self.ctx.spawn(AsksThroughRelay, relay, name="child")
        except StartFailed as error:
            return error.__cause__
        return "started"


class Relay(Actor):
    @handler
    async def ask_on(self, message: str) -> object:
        target = self.ctx.runtime.lookup(message)
        assert target is not None
        return await target.ask(1)


async def test_a_child_asking_its_spawning_parent_in_on_start_fails_with_ask_cycle() -> None:
    """The child's ask raises AskCycle at once; the parent's spawn raises StartFailed."""
    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent, name="parent")
        start = trio.current_time()
        with trio.fail_after(1):
            cause = await parent.ask("direct")
        assert isinstance(cause, AskCycle)
        assert cause.cycle == ("/parent/child", "/parent", "/parent/child")
        assert trio.current_time() == start
        assert await parent.ask(1) == 2  # the parent serves on


async def test_a_cycle_through_another_actor_back_to_the_spawner_is_found() -> None:
    """child's on_start asks relay, relay asks the spawning parent: relay's ask is the cycle."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Relay, name="relay")
        parent = await rt.spawn(Parent, name="parent")
        with trio.fail_after(1):
            cause = await parent.ask("relayed")
        # The child's ask failed with the relay's handler error, whose cause is the cycle.
        assert isinstance(cause, trouper.errors.HandlerError)
        assert isinstance(cause.__cause__, AskCycle)
        assert cause.__cause__.cycle == ("/relay", "/parent", "/parent/child", "/relay")


class Leaf(Actor):
    pass


class AsksStopperOnStop(Actor):
    """Has a child (so its stop has no deadline) and asks "stopper" from on_stop."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    async def on_start(self) -> None:
        await self.ctx.spawn(Leaf)

    async def on_stop(self) -> None:
        stopper = self.ctx.runtime.lookup("stopper")
        assert stopper is not None
        try:
            self.seen.append(await stopper.ask(1))
        except AskCycle as error:
            self.seen.append(error)


class Stopper(Actor):
    @handler
    async def number(self, message: int) -> int:
        return message + 1

    @handler
    async def stop_it(self, message: str) -> str:
        target = self.ctx.runtime.lookup(message)
        assert target is not None
        await self.ctx.runtime.stop(target)
        return "stopped"


async def test_on_stop_asking_the_handler_that_stops_it_gets_ask_cycle() -> None:
    """rt.stop from a handler waits on the stop: on_stop's ask back is a cycle, not a hang."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        stopper = await rt.spawn(Stopper, name="stopper")
        await rt.spawn(AsksStopperOnStop, seen, name="victim")
        start = trio.current_time()
        with trio.fail_after(1):
            assert await stopper.ask("victim") == "stopped"
        assert trio.current_time() == start
        assert len(seen) == 1
        assert isinstance(seen[0], AskCycle)
        assert seen[0].cycle == ("/victim", "/stopper", "/victim")
        assert await stopper.ask(1) == 2
