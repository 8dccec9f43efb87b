"""Review 17: a spawn the runtime's close cuts short raises ``RuntimeClosed``, as documented.

A spawn waits for its actor's first ``on_start``. If the runtime begins to
close meanwhile, the close stops that actor, and the spawn used to raise
``ActorStopped`` (for an actor its caller never got a ref to), where
``Runtime.spawn`` documents ``RuntimeClosed`` for a stopping runtime. A spawn
whose actor something else stopped (found by name and stopped) still raises
``ActorStopped``.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper import Actor, ActorStopped, RuntimeClosed


class SlowStart(Actor):
    """Takes 10 s to start."""

    async def on_start(self) -> None:
        await trio.sleep(10)


class SlowStop(Actor):
    """Takes 2 s to stop."""

    async def on_stop(self) -> None:
        await trio.sleep(2)


async def _spawn(rt: trouper.Runtime, errors: list[tuple[type[BaseException], float]]) -> None:
    try:
        await rt.spawn(SlowStart, name="slow", shutdown=3)
    except Exception as error:
        errors.append((type(error), trio.current_time()))


async def test_a_spawn_under_way_when_the_runtime_closes_raises_runtime_closed() -> None:
    """Begun at t=0, the close at t=1 stops its actor (cut at its 3 s shutdown): RuntimeClosed."""
    errors: list[tuple[type[BaseException], float]] = []
    async with trio.open_nursery() as nursery:
        rt = await trouper.start_runtime(nursery)
        nursery.start_soon(_spawn, rt, errors)
        await trio.sleep(1)
        await rt.aclose()
    assert errors == [(RuntimeClosed, 4.0)]


async def test_a_spawn_begun_once_the_close_began_raises_runtime_closed() -> None:
    """During a shutdown under way (an ``on_stop`` takes 2 s), a new spawn is refused at once."""
    errors: list[tuple[type[BaseException], float]] = []
    async with trio.open_nursery() as nursery:
        rt = await trouper.start_runtime(nursery)
        await rt.spawn(SlowStop)
        nursery.start_soon(rt.aclose)
        await trio.sleep(1)
        await _spawn(rt, errors)
    assert errors == [(RuntimeClosed, 1.0)]


async def test_a_spawn_whose_actor_is_stopped_by_name_raises_actor_stopped() -> None:
    """Not the close: found by its name while it starts and stopped, it is ``ActorStopped``."""
    errors: list[tuple[type[BaseException], float]] = []
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        nursery.start_soon(_spawn, rt, errors)
        await trio.sleep(1)
        slow = rt.lookup("slow")
        assert slow is not None
        await rt.stop(slow)
    assert errors == [(ActorStopped, 4.0)]


@pytest.mark.parametrize("ending", ["aclose", "block"])
async def test_the_runtime_closed_of_a_cut_spawn_names_the_node(ending: str) -> None:
    """Left as the block ends too (the spawn in a task outside it): the error names the node."""
    errors: list[BaseException] = []

    async def spawn(rt: trouper.Runtime) -> None:
        try:
            await rt.spawn(SlowStart)
        except RuntimeClosed as error:
            errors.append(error)

    async with trio.open_nursery() as nursery:
        if ending == "aclose":
            rt = await trouper.start_runtime(nursery, node="n1")
            nursery.start_soon(spawn, rt)
            await trio.sleep(1)
            await rt.aclose()
        else:
            async with trouper.open_runtime(node="n1") as rt:
                nursery.start_soon(spawn, rt)
                await trio.sleep(1)
    assert [str(error) for error in errors] == [
        "the runtime of node 'n1' is closed: it takes no new actors or calls"
    ]
