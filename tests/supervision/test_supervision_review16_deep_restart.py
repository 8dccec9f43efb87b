"""Review: a root group restart while a grandchild is mid-ask or being spawned never hangs an asker.

``open_runtime(root_strategy=OneForAll())``: ``trigger`` fails once at t=1, so the
root ends the group (``trigger``, then ``parent``, whose ``child`` and ``grand`` stop
for good) and starts it again. Whoever asked the grandchild, or the child spawning
it, gets its reply or ``ActorStopped``, at a time the deadlines say, never a hang.
"""

from __future__ import annotations

import attrs
import trio
import trio.testing
from restart_actors import Trigger, lookup

import trouper
from trouper import Actor, ActorRef, OneForAll, Runtime, handler
from trouper.errors import ActorStopped


@attrs.frozen
class Work:
    seconds: float


@attrs.frozen
class SpawnGrand:
    start_seconds: float


class Grand(Actor):
    """Takes ``start_seconds`` to start; ``Work`` takes its seconds (inf: never returns)."""

    def __init__(self, start_seconds: float = 0) -> None:
        self.start_seconds = start_seconds

    async def on_start(self) -> None:
        await trio.sleep(self.start_seconds)

    @handler
    async def work(self, message: Work) -> float:
        await trio.sleep(message.seconds)
        return trio.current_time()


class Child(Actor):
    """Spawns ``grand`` in ``on_start`` if ``eager``, and when asked ``SpawnGrand``."""

    def __init__(self, eager: bool) -> None:
        self.eager = eager

    async def on_start(self) -> None:
        if self.eager:
            await self.ctx.spawn(Grand, name="grand")

    @handler
    async def spawn_grand(self, message: SpawnGrand) -> float:
        await self.ctx.spawn(Grand, message.start_seconds, name="grand")
        return trio.current_time()


class Parent(Actor):
    def __init__(self, eager: bool) -> None:
        self.eager = eager

    async def on_start(self) -> None:
        await self.ctx.spawn(Child, self.eager, name="child")


async def _ask(
    ref: ActorRef[object], message: object, answers: dict[str, object], key: str
) -> None:
    try:
        answers[key] = await ref.ask(message)
    except ActorStopped:
        answers[key] = f"ActorStopped at {trio.current_time():g}"


async def _the_tree_is_back(rt: Runtime) -> None:
    """The group restarted: a fresh ``grand`` answers."""
    await trio.testing.wait_all_tasks_blocked()  # the restart's second half, at this instant
    assert await lookup(rt, "grand").ask(Work(0)) == trio.current_time()


async def test_a_grandchilds_handler_that_returns_in_time_answers_its_asker() -> None:
    """``grand`` is 3 s into a 3 s ask: the ask gets its reply at 3, the one queued ActorStopped."""
    answers: dict[str, object] = {}
    async with trouper.open_runtime(root_strategy=OneForAll()) as rt:
        await rt.spawn(Parent, True, name="parent")
        await rt.spawn(Trigger, [], name="trigger")
        grand = lookup(rt, "grand")
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_ask, grand, Work(3), answers, "running")
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(_ask, grand, Work(0), answers, "queued")
            assert answers == {"running": 3.0, "queued": "ActorStopped at 1"}
            await _the_tree_is_back(rt)


async def test_a_grandchilds_handler_that_never_returns_is_cut_at_its_shutdown() -> None:
    """``grand``'s ask never returns: cut at 1 + 5 s (its shutdown), the asker gets ActorStopped."""
    answers: dict[str, object] = {}
    async with trouper.open_runtime(root_strategy=OneForAll()) as rt:
        await rt.spawn(Parent, True, name="parent")
        await rt.spawn(Trigger, [], name="trigger")
        with trio.fail_after(60):
            await _ask(lookup(rt, "grand"), Work(float("inf")), answers, "running")
            assert answers == {"running": "ActorStopped at 6"}
            await _the_tree_is_back(rt)


async def test_a_child_spawning_a_grandchild_during_the_restart_answers_its_asker() -> None:
    """``child`` spawns a ``grand`` that takes 3 s to start: its asker gets the reply at 3."""
    answers: dict[str, object] = {}
    async with trouper.open_runtime(root_strategy=OneForAll()) as rt:
        await rt.spawn(Parent, False, name="parent")
        await rt.spawn(Trigger, [], name="trigger")
        with trio.fail_after(60):
            await _ask(lookup(rt, "child"), SpawnGrand(3), answers, "spawn")
            assert answers == {"spawn": 3.0}
            await trio.testing.wait_all_tasks_blocked()
            # The grandchild started during its parent's stop stopped with it: the
            # new tree has none, and a second run of the spawn starts one afresh.
            assert rt.lookup("grand") is None
            await _ask(lookup(rt, "child"), SpawnGrand(0), answers, "again")
            assert answers["again"] == trio.current_time()
            await _the_tree_is_back(rt)
