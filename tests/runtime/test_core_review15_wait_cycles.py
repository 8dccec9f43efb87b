"""Review: two actors that each wait on the other's restart (or stop) are resolved at once.

A's handler restarts B while B's handler restarts A: the supervisor carries
restarts out one at a time, so A's restart waited behind B's, which waited for
B's handler, which waited for A's restart. Nothing was cut (A had no restart
pending yet) until B's ``shutdown`` deadline cut B's handler, and never when B
has children of its own (no deadline). Likewise when A waits in ``on_start``,
which no stop or restart cut off. The waiter whose own end is pending is cut off
instead (its asker gets ``ActorStopped``), as an ask closing a cycle fails, and
an ``on_start`` waiting in such a cycle is cut off as a handler is.
"""

from __future__ import annotations

from functools import partial

import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorRef, handler


class Leaf(Actor):
    pass


class Peer(Actor):
    """Asked ``"restart"`` or ``"stop"``, waits a second, then does that to its peer.

    Its peer is the actor named ``a`` if it is ``b``, else ``b``.
    """

    def __init__(self, kids: bool) -> None:
        self.kids = kids

    async def on_start(self) -> None:
        if self.kids:
            await self.ctx.spawn(Leaf)

    @handler
    async def act(self, message: str) -> str:
        await trio.sleep(1)
        rt = self.ctx.runtime
        peer = rt.lookup("a" if self.ctx.self_ref.address.path == "/b" else "b")
        assert peer is not None
        if message == "restart":
            await rt.restart(peer)
        else:
            await rt.stop(peer)
        return "done"


@pytest.mark.parametrize("kids", [False, True], ids=["leaves", "with-children"])
async def test_two_handlers_restarting_each_other_are_resolved_at_once(kids: bool) -> None:
    """One handler is cut off (ActorStopped), the other returns; both are restarted, at once."""
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Peer, kids, name="a")
        b = await rt.spawn(Peer, kids, name="b")
        start = trio.current_time()
        answers: dict[str, str] = {}

        async def ask(ref: ActorRef[object]) -> None:
            try:
                answers[ref.address.path] = str(await ref.ask("restart"))
            except trouper.errors.ActorStopped:
                answers[ref.address.path] = "ActorStopped"

        with trio.fail_after(100):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask, a)
                nursery.start_soon(ask, b)
        assert trio.current_time() == start + 1
        assert sorted(answers.values()) == ["ActorStopped", "done"]
        await trio.testing.wait_all_tasks_blocked()
        for path in ("/a", "/b"):
            info = rt.tree().find(path)
            assert info is not None
            assert (info.state.value, info.restart_count) == ("running", 1)


class RestartsPeerOnStart(Actor):
    """Its first ``on_start`` (it has a child) waits ``wait`` seconds, then restarts ``peer``."""

    def __init__(self, peer: ActorRef[object], wait: float, starts: list[float]) -> None:
        self.peer = peer
        self.wait = wait
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(trio.current_time())
        await self.ctx.spawn(Leaf)
        if len(self.starts) == 1:
            await trio.sleep(self.wait)
            await self.ctx.runtime.restart(self.peer)


async def test_a_handler_stopping_an_actor_whose_on_start_restarts_it_cuts_on_start_off() -> None:
    """A's on_start waits on B's restart, then B's handler on A's stop: A's on_start is cut off."""
    starts: list[float] = []
    async with trouper.open_runtime() as rt:
        b = await rt.spawn(Peer, False, name="b")
        start = trio.current_time()
        spawned: list[str] = []

        async def spawn_a() -> None:
            with pytest.raises(trouper.errors.ActorStopped):
                await rt.spawn(RestartsPeerOnStart, b, 0.5, starts, name="a")
            spawned.append("ActorStopped")

        with trio.fail_after(100):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(spawn_a)
                assert await b.ask("stop") == "done"
        assert trio.current_time() == start + 1
        assert (spawned, starts) == (["ActorStopped"], [start])
        await trio.testing.wait_all_tasks_blocked()
        assert rt.lookup("a") is None
        info = rt.tree().find("/b")
        assert info is not None
        assert (info.state.value, info.restart_count) == ("running", 1)


async def test_two_actors_restarting_each_other_from_a_handler_and_on_start_are_resolved() -> None:
    """B's handler restarts A, then A's on_start restarts B: A's on_start is cut off."""
    starts: list[float] = []
    async with trouper.open_runtime() as rt:
        b = await rt.spawn(Peer, True, name="b")
        start = trio.current_time()
        with trio.fail_after(100):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(rt.spawn, RestartsPeerOnStart, b, 1.5, starts, name="a"))
                assert await b.ask("restart") == "done"
        assert trio.current_time() == start + 1.5
        assert starts == [start, start + 1.5]
        await trio.testing.wait_all_tasks_blocked()
        for path in ("/a", "/b"):
            info = rt.tree().find(path)
            assert info is not None
            assert (info.state.value, info.restart_count) == ("running", 1)
