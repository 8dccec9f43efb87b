"""Review: a top-level actor spawned while the root restarts a group starts after the restart.

``open_runtime(root_strategy=OneForAll())`` (or ``RestForOne()``) makes the root
restart top-level actors as a group. ``rt.spawn`` during such a restart started
the new actor at once, beside a group that was stopped or half started, where a
supervisor actor's new child (``StartChild``, ``ctx.spawn``) waits for the restart.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper import Actor, OneForAll, RestForOne, Strategy, handler
from trouper.errors import ActorStopped, AskCycle


class First(Actor):
    """Fails once, half a second after its first start."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start first at {trio.current_time():g}")
        if len(self.log) == 1:
            self.ctx.send_later(0.5, self.ctx.self_ref, "boom")

    @handler
    async def boom(self, message: str) -> None:
        raise ValueError(message)


class SlowToEnd(Actor):
    """Takes two seconds to end."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start slow at {trio.current_time():g}")

    async def on_stop(self) -> None:
        await trio.sleep(2)


class Late(Actor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start late at {trio.current_time():g}")


@pytest.mark.parametrize("strategy", [OneForAll(), RestForOne()])
async def test_a_top_level_actor_spawned_during_a_root_group_restart_starts_after_it(
    strategy: Strategy,
) -> None:
    """``first`` fails at 0.5, ``slow`` ends until 2.5; ``late``, spawned at 1, starts at 2.5."""
    log: list[str] = []
    async with trouper.open_runtime(root_strategy=strategy) as rt:
        await rt.spawn(First, log, name="first")
        await rt.spawn(SlowToEnd, log, name="slow")
        await trio.sleep(1)
        await rt.spawn(Late, log, name="late")
        assert trio.current_time() == 2.5
    assert log == [
        "start first at 0",
        "start slow at 0",
        "start first at 2.5",
        "start slow at 2.5",
        "start late at 2.5",
    ]


class Spawner(Actor):
    """Asked anything, waits until t=1, then spawns a top-level ``Late``; replies when done."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    @handler
    async def spawn_late(self, message: str) -> float:
        await trio.sleep_until(1)
        await self.ctx.runtime.spawn(Late, self.log, name="late")
        return trio.current_time()


async def test_an_actor_spawning_at_the_root_during_its_group_restart_waits_for_it() -> None:
    """Under RestForOne, ``spawner`` (before the group) spawns ``late`` at 1: it starts at 2.5."""
    log: list[str] = []
    async with trouper.open_runtime(root_strategy=RestForOne()) as rt:
        spawner = await rt.spawn(Spawner, log, name="spawner")
        await rt.spawn(First, log, name="first")
        await rt.spawn(SlowToEnd, log, name="slow")
        assert await spawner.ask("go") == 2.5
    assert log[-1] == "start late at 2.5"


class AsksSpawnerOnStop(Actor):
    """Its ``on_stop`` asks ``spawner`` to spawn; logs the ``AskCycle`` it gets."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_stop(self) -> None:
        spawner = self.ctx.runtime.lookup("spawner")
        assert spawner is not None
        await trio.sleep(1)
        try:
            await spawner.ask("again")
        except AskCycle as cycle:
            self.log.append(f"{cycle.cycle} at {trio.current_time():g}")


async def test_an_ask_back_to_an_actor_spawning_at_the_root_during_the_restart_is_a_cycle() -> None:
    """``spawner`` waits on the restart, which waits on ``asker``'s on_stop asking it: AskCycle."""
    log: list[str] = []
    async with trouper.open_runtime(root_strategy=RestForOne()) as rt:
        spawner = await rt.spawn(Spawner, log, name="spawner")
        await rt.spawn(First, log, name="first")
        await rt.spawn(AsksSpawnerOnStop, log, name="asker")
        with trio.fail_after(100):
            assert await spawner.ask("go") == 1.5
    assert "('/asker', '/spawner', '/asker') at 1.5" in log
    assert "start late at 1.5" in log


class Parent(Actor):
    """Spawns a ``Spawner`` child named ``child`` as it starts."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        await self.ctx.spawn(Spawner, self.log, name="child")


@pytest.mark.parametrize("top", [Spawner, Parent])
async def test_an_actor_the_root_restart_ends_is_cut_off_spawning_at_the_root(
    top: type[Actor],
) -> None:
    """OneForAll ends ``top`` (or its child) mid-handler: the spawn is cut off, nothing starts."""
    log: list[str] = []
    async with trouper.open_runtime(root_strategy=OneForAll()) as rt:
        await rt.spawn(First, log, name="first")
        await rt.spawn(top, log, name="top")
        spawner = rt.lookup("top" if top is Spawner else "child")
        assert spawner is not None
        with trio.fail_after(100), pytest.raises(ActorStopped):
            await spawner.ask("go")
        assert trio.current_time() == 1
    assert "start late at 1" not in log
