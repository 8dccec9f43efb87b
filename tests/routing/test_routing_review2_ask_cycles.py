"""Review fix: asks through a balancing pool fail with ``AskCycle`` instead of deadlocking."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle
from trouper.routing import Balancing, Broadcast, members


@attrs.frozen
class Echo:
    """Answered with ``"echo"``."""


@attrs.frozen
class AskPool:
    """Ask the member's own pool for an ``Echo``; reply with the answer or the ``AskCycle``."""


@attrs.frozen
class AskBack:
    """Ask the actor named ``name`` for an ``Echo``; reply with the answer or the ``AskCycle``."""

    name: str


class Member(Actor):
    @handler
    async def echo(self, message: Echo) -> str:
        return "echo"

    @handler
    async def ask_pool(self, message: AskPool) -> object:
        return await _ask_or_cycle(self.ctx.parent)

    @handler
    async def ask_back(self, message: AskBack) -> object:
        target = self.ctx.runtime.lookup(message.name)
        assert target is not None
        return await _ask_or_cycle(target)


@attrs.frozen
class Through:
    """Ask the pool named ``pool`` ``AskBack(<this actor's name>)``."""

    pool: str


class Outer(Actor):
    @handler
    async def echo(self, message: Echo) -> str:
        return "echo"

    @handler
    async def through(self, message: Through) -> object:
        pool = self.ctx.runtime.lookup(message.pool)
        assert pool is not None
        return await pool.ask(AskBack(self.ctx.self_ref.address.path.lstrip("/")))


async def _ask_or_cycle(target: trouper.ActorRef[object] | None) -> object:
    assert target is not None
    try:
        return await target.ask(Echo())
    except AskCycle as cycle:
        return cycle


async def test_the_only_member_asking_its_balancing_pool_gets_an_ask_cycle_at_once() -> None:
    """Nobody else could ever take the ask: it fails at once, naming member, pool, member."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 1, router=Balancing(), name="pool")
        start = trio.current_time()
        with trio.fail_after(10):
            answer = await pool.ask(AskPool())
        assert isinstance(answer, AskCycle)
        assert answer.cycle == ("/pool/member-1", "/pool", "/pool/member-1")
        assert trio.current_time() == start
        assert await pool.ask(Echo()) == "echo"  # the pool goes on


async def test_a_member_asking_its_pool_while_another_member_is_free_is_answered() -> None:
    """Not a cycle while some member can take the ask."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=Balancing(), name="pool")
        with trio.fail_after(10):
            assert await pool.ask(AskPool()) == "echo"


async def test_every_member_asking_the_pool_at_once_is_a_cycle_for_the_last() -> None:
    """Two members each ask the pool: the second ask finds no member left to take it."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=Balancing(), name="pool")
        answers: list[object] = []

        async def ask() -> None:
            answers.append(await pool.ask(AskPool()))

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask)
                nursery.start_soon(ask)
        assert "echo" in answers
        cycles = [answer for answer in answers if isinstance(answer, AskCycle)]
        assert len(cycles) == 1
        assert cycles[0].cycle[1] == "/pool"


async def test_a_cycle_through_a_one_member_balancing_pool_fails_at_once() -> None:
    """outer asks the pool, its member asks outer back: that ask fails with AskCycle."""
    async with trouper.open_runtime() as rt:
        await rt.spawn_pool(Member, 1, router=Balancing(), name="pool")
        outer = await rt.spawn(Outer, name="outer")
        with trio.fail_after(10):
            answer = await outer.ask(Through("pool"))
        assert isinstance(answer, AskCycle)
        assert answer.cycle == ("/pool/member-1", "/outer", "/pool/member-1")


async def test_a_member_asking_its_broadcast_pool_gets_an_ask_cycle_at_once() -> None:
    """A broadcast ask waits for every member, the asker included: it fails at once."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=Broadcast(), name="pool")
        _, second = await members(pool)
        start = trio.current_time()
        with trio.fail_after(10):
            answer = await second.ask(AskPool())
        assert isinstance(answer, AskCycle)
        assert answer.cycle == ("/pool/member-2", "/pool", "/pool/member-2")
        assert trio.current_time() == start
        assert await pool.ask(Echo()) == ["echo", "echo"]  # the pool goes on


async def test_a_cycle_through_a_one_member_broadcast_pool_fails_at_once() -> None:
    """outer asks the broadcast pool, its member asks outer back: that ask fails with AskCycle."""
    async with trouper.open_runtime() as rt:
        await rt.spawn_pool(Member, 1, router=Broadcast(), name="pool")
        outer = await rt.spawn(Outer, name="outer")
        with trio.fail_after(10):
            answer = await outer.ask(Through("pool"))
        assert isinstance(answer, list)
        [cycle] = answer
        assert isinstance(cycle, AskCycle)
        assert cycle.cycle == ("/pool/member-1", "/outer", "/pool/member-1")
