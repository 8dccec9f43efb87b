"""Review fix: an ask moved to another member (a pool shrinking) keeps its cycle detection."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle
from trouper.routing import RoundRobin, resize


@attrs.frozen
class Echo:
    """Answered with ``"echo"``."""


@attrs.frozen
class Hold:
    """Keeps the member busy for two seconds."""


@attrs.frozen
class LaterAskBack:
    """Wait half a second, then ask ``outer`` for an ``Echo``; journal the answer."""


@attrs.frozen
class AskBack:
    """Ask the actor named ``name`` for an ``Echo``; reply with the answer or the ``AskCycle``."""

    name: str


class Member(Actor):
    @handler
    async def echo(self, message: Echo) -> str:
        return "echo"

    @handler
    async def hold(self, message: Hold) -> None:
        await trio.sleep(2)

    @handler
    async def later_ask_back(self, message: LaterAskBack) -> None:
        await trio.sleep(0.5)
        outer = self.ctx.runtime.lookup("outer")
        assert outer is not None
        await outer.ask(Echo())

    @handler
    async def ask_back(self, message: AskBack) -> object:
        target = self.ctx.runtime.lookup(message.name)
        assert target is not None
        try:
            return await target.ask(Echo())
        except AskCycle as cycle:
            return cycle


class Outer(Actor):
    @handler
    async def echo(self, message: Echo) -> str:
        return "echo"

    @handler
    async def through(self, message: str) -> object:
        pool = self.ctx.runtime.lookup(message)
        assert pool is not None
        try:
            return await pool.ask(AskBack("outer"))
        except AskCycle as cycle:
            return cycle


async def test_an_ask_moved_from_a_removed_member_still_finds_the_cycle() -> None:
    """outer's ask queued at member-2 moves to member-1 on a shrink; its ask back is a cycle."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=RoundRobin(), name="pool")
        outer = await rt.spawn(Outer, name="outer")
        await pool.tell(Hold())  # member-1
        await pool.tell(Hold())  # member-2
        await pool.tell(Echo())  # member-1
        answers: list[object] = []

        async def ask_outer() -> None:
            answers.append(await outer.ask("pool"))  # outer's ask goes to member-2

        with trio.fail_after(100):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_outer)
                await trio.sleep(1)
                await resize(pool, 1)  # member-2 leaves: outer's queued ask moves to member-1
        [answer] = answers
        assert isinstance(answer, AskCycle)
        assert answer.cycle == ("/pool/member-1", "/outer", "/pool/member-1")
        assert trio.current_time() == 2


async def test_an_ask_moved_to_a_member_waiting_on_the_asker_fails_at_once() -> None:
    """member-1 waits on outer when outer's ask moves to it from member-2: AskCycle at once."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=RoundRobin(), name="pool")
        outer = await rt.spawn(Outer, name="outer")
        await pool.tell(LaterAskBack())  # member-1: asks outer at 0.5
        await pool.tell(Hold())  # member-2
        await pool.tell(Echo())  # member-1
        answers: list[tuple[object, float]] = []

        async def ask_outer() -> None:
            answer = await outer.ask("pool")  # outer's ask goes to member-2
            answers.append((answer, trio.current_time()))

        with trio.fail_after(100):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_outer)
                await trio.sleep(1)
                await resize(pool, 1)  # outer's queued ask moves to member-1
        [(answer, when)] = answers
        assert isinstance(answer, AskCycle)
        assert answer.cycle == ("/outer", "/pool", "/pool/member-1", "/outer")
        assert when == 1
