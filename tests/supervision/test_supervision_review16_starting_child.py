"""Review fix: an actor's end is not held for good by a handler spawning a child that never starts.

An actor with children has no shutdown deadline of its own by default (OTP's
``infinity``): its end waits for its running handler, then stops its children.
A handler in ``spawn`` waits on the new child's ``on_start``; one that never
returned held the end, and a root group restart reaching that actor, for good.
The end now stops that starting child at once, so the child's own ``shutdown``
bounds its start; ``spawn`` raises ``ActorStopped`` in the handler, which cuts
the handler off: its asker gets ``ActorStopped``, and nothing fails.
"""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing
from restart_actors import Trigger, lookup

import trouper
from trouper import Actor, ActorRef, OneForAll, handler
from trouper.errors import ActorStopped


@attrs.frozen
class SpawnChild:
    start_seconds: float


class Starting(Actor):
    """Its ``on_start`` takes ``start_seconds`` (inf: never returns)."""

    def __init__(self, start_seconds: float) -> None:
        self.start_seconds = start_seconds

    async def on_start(self) -> None:
        await trio.sleep(self.start_seconds)


class Spawner(Actor):
    """Asked ``SpawnChild``, spawns a ``Starting`` child; replies when it has started."""

    @handler
    async def spawn_child(self, message: SpawnChild) -> float:
        await self.ctx.spawn(Starting, message.start_seconds, name="starting")
        return trio.current_time()


class Holder(Actor):
    """A top-level actor whose only child is ``spawner``."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Spawner, name="spawner")


async def _ask_spawn(ref: ActorRef[object], answers: list[object]) -> None:
    try:
        answers.append(await ref.ask(SpawnChild(float("inf"))))
    except ActorStopped as error:  # cut off by the end, as in trio.sleep_forever (21077bd)
        answers.append((type(error).__name__, trio.current_time()))


@pytest.mark.parametrize("how", ["stop", "restart"])
async def test_ending_an_actor_whose_handler_spawns_a_child_that_never_starts(how: str) -> None:
    """A stop or restart at 1 is over at 6 (the child's 5 s shutdown); spawn raised ActorStopped."""
    answers: list[object] = []
    async with trouper.open_runtime() as rt:
        holder = await rt.spawn(Holder, name="holder")
        spawner = lookup(rt, "spawner")
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_ask_spawn, spawner, answers)
                await trio.sleep(1)
                if how == "stop":
                    await rt.stop(spawner)
                else:
                    await rt.restart(spawner)
                assert trio.current_time() == 6.0
        assert answers == [("ActorStopped", 6.0)]
        assert rt.lookup("starting") is None
        if how == "restart":
            assert await lookup(rt, "spawner").ask(SpawnChild(0)) == 6.0
        await rt.stop(holder)


async def test_a_root_group_restart_is_not_held_by_a_grandchild_that_never_starts() -> None:
    """spawner spawns a never-starting child; the group restart at 1 is done at 6, not never."""
    answers: list[object] = []
    async with trouper.open_runtime(root_strategy=OneForAll()) as rt:
        await rt.spawn(Holder, name="holder")
        await rt.spawn(Trigger, [], name="trigger")
        with trio.fail_after(60):
            await _ask_spawn(lookup(rt, "spawner"), answers)
            assert answers == [("ActorStopped", 6.0)]
            await trio.testing.wait_all_tasks_blocked()  # the restart's second half
            assert await lookup(rt, "spawner").ask(SpawnChild(0)) == 6.0


async def test_a_child_that_starts_before_its_deadline_is_returned_by_spawn() -> None:
    """A child starting in 3 s, under a stop at 1: spawn returns it at 3, then it stops."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Holder, name="holder")
        spawner = lookup(rt, "spawner")
        answers: list[object] = []

        async def ask() -> None:
            answers.append(await spawner.ask(SpawnChild(3)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.sleep(1)
            await rt.stop(spawner)
        assert answers == [3.0]
        assert trio.current_time() == 3.0
        assert rt.lookup("starting") is None
        with pytest.raises(ActorStopped):
            await spawner.ask(SpawnChild(0))
