"""A cancelled spawn returns once its actor has stopped: its name and id are free for a retry."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, ActorState, ChildSpec, handler

ROUNDS = 20
# Which of the spawner and the cancelled actor's task the scheduler ran first was left to
# chance (Trio shuffles its run batches): a round failed about one time in two.


class SlowStart(Actor):
    """Takes 5 s to start."""

    async def on_start(self) -> None:
        await trio.sleep(5)


async def test_a_cancelled_spawn_frees_the_name_before_it_raises() -> None:
    """A spawn cut off by its caller's deadline leaves no actor by that name behind."""
    async with trouper.open_runtime() as rt:
        for _ in range(ROUNDS):
            with trio.move_on_after(1) as scope:
                await rt.spawn(SlowStart, name="slow")
            assert scope.cancelled_caught
            assert rt.lookup("slow") is None
            assert rt.tree().actors == ()
        ref = await rt.spawn(SlowStart, name="slow")
        assert rt.lookup("slow") == ref


@attrs.frozen
class Retry:
    """Start child ``c`` with a 1 s deadline, then again without one."""


class Parent(Actor):
    """Starts a slow spec child under a deadline, then retries it."""

    @handler
    async def retry(self, message: Retry) -> list[tuple[str, ActorState]]:
        seen = []
        for _ in range(ROUNDS):
            with trio.move_on_after(1):
                await self.ctx.start_child(ChildSpec("c", SlowStart))
            seen += [(c.id, c.state) for c in self.ctx.children()]
        await self.ctx.start_child(ChildSpec("c", SlowStart))
        return seen + [(c.id, c.state) for c in self.ctx.children()]


async def test_a_cancelled_start_child_leaves_its_id_free() -> None:
    """start_child cut off by a deadline leaves no stopped child listed to refuse the retry."""
    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent)
        with trio.fail_after(200):
            assert await parent.ask(Retry()) == [("c", ActorState.RUNNING)]
