"""Review fix: an ask cycle through any broadcast member (not only the first) fails at once."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle
from trouper.routing import Broadcast


@attrs.frozen
class Echo:
    """Answered with ``"echo"``."""


@attrs.frozen
class AskBack:
    """Ask the actor named ``name`` for an ``Echo``; reply with the answer or the ``AskCycle``."""

    name: str


@attrs.frozen
class Through:
    """Ask the pool named ``pool`` ``AskBack(<this actor's name>)``."""

    pool: str


@attrs.frozen
class Relay:
    """member-2 asks the actor named ``via`` ``AskBack(name)``; the others answer ``"echo"``."""

    via: str
    name: str


async def _ask_or_cycle(target: trouper.ActorRef[object] | None) -> object:
    assert target is not None
    try:
        return await target.ask(Echo())
    except AskCycle as cycle:
        return cycle


class Member(Actor):
    @handler
    async def echo(self, message: Echo) -> str:
        return "echo"

    @handler
    async def ask_back(self, message: AskBack) -> object:
        return await _ask_or_cycle(self.ctx.runtime.lookup(message.name))

    @handler
    async def relay(self, message: Relay) -> object:
        if self.ctx.self_ref.address.path != "/pool/member-2":
            return "echo"
        via = self.ctx.runtime.lookup(message.via)
        assert via is not None
        return await via.ask(AskBack(message.name))


class Outer(Actor):
    @handler
    async def echo(self, message: Echo) -> str:
        return "echo"

    @handler
    async def through(self, message: Through) -> object:
        pool = self.ctx.runtime.lookup(message.pool)
        assert pool is not None
        return await pool.ask(AskBack(self.ctx.self_ref.address.path.lstrip("/")))


class RelayOuter(Outer):
    @handler
    async def relay_through(self, message: Relay) -> object:
        pool = self.ctx.runtime.lookup(message.via)
        assert pool is not None
        return await pool.ask(Relay("middle", self.ctx.self_ref.address.path.lstrip("/")))


async def test_a_second_member_asking_back_the_broadcast_asker_gets_an_ask_cycle() -> None:
    """outer asks a two-member broadcast pool, each member asks outer back: both fail at once."""
    async with trouper.open_runtime() as rt:
        await rt.spawn_pool(Member, 2, router=Broadcast(), name="pool")
        outer = await rt.spawn(Outer, name="outer")
        start = trio.current_time()
        with trio.fail_after(10):
            answer = await outer.ask(Through("pool"))
        assert isinstance(answer, list)
        assert [a.cycle if isinstance(a, AskCycle) else a for a in answer] == [
            ("/pool/member-1", "/outer", "/pool/member-1"),
            ("/pool/member-2", "/outer", "/pool/member-2"),
        ]
        assert trio.current_time() == start


async def test_a_cycle_through_a_second_member_and_another_actor_fails_at_once() -> None:
    """outer asks the pool, member-2 asks middle, middle asks outer: middle's ask fails at once."""
    async with trouper.open_runtime() as rt:
        await rt.spawn_pool(Member, 2, router=Broadcast(), name="pool")
        await rt.spawn(Member, name="middle")
        outer = await rt.spawn(RelayOuter, name="outer")
        start = trio.current_time()
        with trio.fail_after(10):
            answer = await outer.ask(Relay("pool", "outer"))
        assert isinstance(answer, list)
        assert [a.cycle if isinstance(a, AskCycle) else a for a in answer] == [
            "echo",
            ("/middle", "/outer", "/pool/member-2", "/middle"),
        ]
        assert trio.current_time() == start
