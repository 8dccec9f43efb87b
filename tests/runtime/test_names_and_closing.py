"""Names (chosen and automatic) and a runtime that has closed: nothing collides, nothing leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import ActorError, ActorStopped, NameTaken, RuntimeClosed


class Echo(Actor):
    @handler
    async def echo(self, message: str) -> str:
        return message


async def test_automatic_names_never_collide_with_chosen_ones() -> None:
    """After spawn(name="Echo-2"), two unnamed spawns of Echo both succeed with other names."""
    async with trouper.open_runtime() as rt:
        chosen = await rt.spawn(Echo, name="Echo-2")
        first = await rt.spawn(Echo)
        second = await rt.spawn(Echo)
        paths = {chosen.address.path, first.address.path, second.address.path}
        assert paths == {"/Echo-2", "/Echo-1", "/Echo-3"}
        assert await second.ask("hi") == "hi"


async def test_a_chosen_name_taken_by_an_automatic_one_raises_name_taken() -> None:
    """Choosing the name an unnamed actor was given is NameTaken, never DuplicateChild."""
    async with trouper.open_runtime() as rt:
        automatic = await rt.spawn(Echo)
        name = automatic.address.path.lstrip("/")
        with pytest.raises(ActorError) as caught:
            await rt.spawn(Echo, name=name)
        assert type(caught.value) is NameTaken, repr(caught.value)


async def test_lookup_finds_an_actor_by_its_automatic_name() -> None:
    """An unnamed actor's automatic name finds it until it stops."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        name = ref.address.path.lstrip("/")
        assert rt.lookup(name) == ref
        await rt.stop(ref)
        assert rt.lookup(name) is None


async def test_children_get_automatic_names_unique_across_the_runtime() -> None:
    """An unnamed child's automatic name is runtime-wide: lookup finds it too."""

    class Parent(Actor):
        @handler
        async def spawn(self, message: str) -> trouper.ActorRef[object]:
            return await self.ctx.spawn(Echo)

    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent, name="p")
        child = await parent.ask("go")
        assert isinstance(child, trouper.ActorRef)
        assert rt.lookup(child.address.path.rsplit("/", 1)[1]) == child


async def test_spawn_after_aclose_raises_runtime_closed_and_leaves_nothing() -> None:
    """Once aclose() has run, spawn raises RuntimeClosed: no name, no tree entry."""
    async with trio.open_nursery() as nursery:
        rt = await trouper.start_runtime(nursery)
        await rt.aclose()
    with pytest.raises(
        RuntimeClosed,
        match=r"^the runtime of node 'local' is closed: it takes no new actors or calls$",
    ):
        await rt.spawn(Echo, name="late")
    assert rt.lookup("late") is None
    assert rt.tree().actors == ()


async def test_after_an_outside_cancel_nothing_is_swallowed_and_nothing_hangs() -> None:
    """The runtime cancelled from outside: spawn is RuntimeClosed, tell a dead letter, ask fails."""
    with trio.CancelScope() as outer:
        async with trouper.open_runtime() as rt:
            ref = await rt.spawn(Echo, name="e")
            outer.cancel()
            await trio.sleep_forever()
    assert outer.cancelled_caught
    with pytest.raises(RuntimeClosed):
        await rt.spawn(Echo, name="e")
    assert (rt.lookup("e"), rt.tree().actors) == (None, ())
    before = rt.dead_letters.count
    await ref.tell("lost?")
    assert rt.dead_letters.count == before + 1
    with trio.fail_after(1), pytest.raises(ActorStopped):
        await ref.ask("anyone?")


async def test_a_spawn_racing_the_shutdown_is_refused_and_leaves_no_name() -> None:
    """A spawn made while the runtime shuts down raises RuntimeClosed; the name stays free."""

    class Slow(Actor):
        async def on_stop(self) -> None:
            await trio.sleep(1)

    outcome: list[BaseException] = []
    async with trio.open_nursery() as nursery:
        rt = await trouper.start_runtime(nursery)
        await rt.spawn(Slow)
        nursery.start_soon(rt.aclose)
        await trio.testing.wait_all_tasks_blocked()  # the shutdown is stopping Slow
        try:
            await rt.spawn(Echo, name="during")
        except Exception as error:
            outcome.append(error)
    assert [type(error) for error in outcome] == [RuntimeClosed]
    assert rt.lookup("during") is None


@pytest.mark.real_clock
async def test_stopping_many_idle_actors_does_not_count_against_the_shutdown_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """20,000 idle actors under a 20 ms shutdown_timeout: all stop cleanly, nothing cancelled."""
    stopped: list[object] = []
    with caplog.at_level("WARNING", logger="trouper"):
        async with trouper.open_runtime(shutdown_timeout=0.02) as rt:
            rt.events.listen(stopped.append, kinds=[trouper.EventKind.STOPPED])
            for _ in range(20_000):
                await rt.spawn(Echo)
            start = trio.current_time()
        elapsed = trio.current_time() - start
    assert len(stopped) == 20_000
    assert elapsed > 0.02  # the work took longer than the timeout ...
    assert "did not stop within" not in caplog.text  # ... and it never tripped


async def test_spawns_and_stops_that_complete_at_once_still_let_others_run() -> None:
    """A loop of quick spawns and stops yields to the scheduler regularly (every 16 calls)."""
    turns: list[int] = []

    async def other() -> None:
        while True:
            turns.append(1)
            await trio.lowlevel.checkpoint()

    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await trio.lowlevel.checkpoint()
        before = len(turns)
        refs = [await rt.spawn(Echo) for _ in range(64)]
        during_spawns = len(turns) - before
        before = len(turns)
        for ref in refs:
            await rt.stop(ref)
        during_stops = len(turns) - before
        nursery.cancel_scope.cancel()
    assert during_spawns >= 3
    assert during_stops >= 3


async def test_a_cancelled_spawn_and_stop_raise_cancelled_and_change_nothing() -> None:
    """Quick paths are still cancellation points: inside a cancelled scope nothing happens."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="kept")
        with trio.CancelScope() as scope:
            scope.cancel()
            await rt.spawn(Echo, name="never")
        with trio.CancelScope() as scope:
            scope.cancel()
            await rt.stop(ref)
        assert rt.lookup("never") is None
        assert rt.lookup("kept") == ref


class FailsWhileAttaching:
    """A transport whose attach fails the runtime before the block's first line."""

    @asynccontextmanager
    async def attach(self, runtime: trouper.Runtime) -> AsyncIterator[None]:
        runtime.fail(ValueError("the cluster refused this node"))
        yield


async def test_a_failure_before_the_block_starts_cancels_the_block() -> None:
    """A runtime failed while its transport attaches cancels its block and raises the failure."""
    reached: list[str] = []

    async def run() -> None:
        async with trouper.open_runtime(transport=FailsWhileAttaching()):
            reached.append("body")
            await trio.sleep_forever()

    with trio.fail_after(60), pytest.raises(ValueError, match="the cluster refused this node"):
        await run()
    assert reached == ["body"]
