"""Ask cycles: an ask that would close a cycle of asks fails at once, naming the cycle."""

from __future__ import annotations

import attrs
import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle, HandlerError


@attrs.frozen
class Relay:
    """Ask the next actor of ``chain`` (by name) with the rest of the chain."""

    chain: tuple[str, ...]


@attrs.frozen
class Catch:
    """Like Relay, but reply with the error caught (AskCycle, HandlerError) instead of failing."""

    chain: tuple[str, ...]


class Node(Actor):
    @handler
    async def relay(self, message: Relay) -> object:
        if not message.chain:
            return "end"
        target = self.ctx.runtime.lookup(message.chain[0])
        assert target is not None
        return await target.ask(Relay(message.chain[1:]))

    @handler
    async def catch(self, message: Catch) -> object:
        target = self.ctx.runtime.lookup(message.chain[0])
        assert target is not None
        try:
            return await target.ask(Relay(message.chain[1:]))
        except (AskCycle, HandlerError) as error:  # the cycle here, or further down
            return error


async def _nodes(rt: trouper.Runtime, *names: str) -> None:
    for name in names:
        await rt.spawn(Node, name=name)


async def test_two_actors_asking_each_other_fail_at_once_naming_the_cycle() -> None:
    """a asks b, b asks a: b's ask raises AskCycle((/b, /a, /b)) without waiting."""
    async with trouper.open_runtime() as rt:
        await _nodes(rt, "a", "b")
        a = rt.lookup("a")
        assert a is not None
        start = trio.current_time()
        with trio.fail_after(1):
            cycle = await a.ask(Catch(("b", "a")))
        assert isinstance(cycle, HandlerError)  # b's handler failed with the cycle ...
        assert isinstance(cycle.__cause__, AskCycle)
        assert cycle.__cause__.cycle == ("/b", "/a", "/b")
        assert trio.current_time() == start


async def test_a_cycle_through_a_chain_names_every_actor_in_order() -> None:
    """a -> b -> c -> a: the ask from c raises AskCycle naming c, a, b, c."""
    async with trouper.open_runtime() as rt:
        await _nodes(rt, "a", "b", "c")
        a = rt.lookup("a")
        assert a is not None
        with trio.fail_after(1):
            with pytest.raises(HandlerError) as caught:
                await a.ask(Relay(("b", "c", "a")))
        # a's handler failed because b's did, because c's ask raised the cycle.
        error: BaseException | None = caught.value
        while error is not None and not isinstance(error, AskCycle):
            error = error.__cause__
        assert isinstance(error, AskCycle)
        assert error.cycle == ("/c", "/a", "/b", "/c")
        assert str(error) == (
            "ask cycle /c -> /a -> /b -> /c: each waits for the next to answer, "
            "so none ever would; tell one of them instead"
        )


async def test_an_actor_asking_itself_gets_an_ask_cycle() -> None:
    """A handler asking its own actor raises AskCycle at once (an ask cycle of one)."""
    async with trouper.open_runtime() as rt:
        await _nodes(rt, "solo")
        solo = rt.lookup("solo")
        assert solo is not None
        with trio.fail_after(1):
            answer = await solo.ask(Catch(("solo",)))
        assert isinstance(answer, AskCycle)
        assert answer.cycle == ("/solo", "/solo")


async def test_asks_that_do_not_close_a_cycle_are_answered() -> None:
    """A chain that ends, and the same actors asked again afterwards, work normally."""
    async with trouper.open_runtime() as rt:
        await _nodes(rt, "a", "b", "c")
        a = rt.lookup("a")
        assert a is not None
        assert await a.ask(Relay(("b", "c"))) == "end"
        assert await a.ask(Relay(("c", "b"))) == "end"  # the first chain left no trace


async def test_an_ask_from_a_task_beside_the_handler_is_not_a_cycle() -> None:
    """A task a handler started (not the handler itself) may ask back: it blocks no mailbox."""

    class Spawner(Actor):
        @handler
        async def go(self, message: str) -> object:
            results: list[object] = []
            me = self.ctx.self_ref

            async def side() -> None:
                results.append(await me.ask(Relay(())))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(side)
                await trio.lowlevel.checkpoint()
            return results

        @handler
        async def relay(self, message: Relay) -> object:
            return "end"

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Spawner)
        # The side task's ask waits for the handler to finish, which waits for the side
        # task: a real deadlock that no cycle check can see; bound it and expect the wait.
        with trio.move_on_after(1) as scope:
            await ref.ask("go")
        assert scope.cancelled_caught
