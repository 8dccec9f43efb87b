"""Review: a balancing pool's member that is stopping for good cannot take an ask.

``Asking a balancing pool from a handler`` fails with ``AskCycle`` when no
member could ever take the ask. A member whose stop for good has begun (its
``Terminated`` not yet handled by the pool, which is busy) was still counted
as one that could: the ask was queued for it, and its asker waited for ever.
"""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle
from trouper.routing import Balancing, Resize


@attrs.frozen
class Echo:
    """Answered with ``"echo"``."""


@attrs.frozen
class Hold:
    """Wait until the event is set."""

    event: trio.Event


@attrs.frozen
class Quit:
    """Stop for good."""


@attrs.frozen
class AskPool:
    """Ask the member's own pool for an ``Echo``; reply with the answer or the ``AskCycle``."""


class Member(Actor):
    """Echoes; holds; quits; asks its pool. The third member starts once ``gate`` is set."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    async def on_start(self) -> None:
        if self.ctx.self_ref.address.path.endswith("member-3"):
            await self.gate.wait()

    @handler
    async def echo(self, message: Echo) -> str:
        return "echo"

    @handler
    async def hold(self, message: Hold) -> None:
        await message.event.wait()

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()

    @handler
    async def ask_pool(self, message: AskPool) -> object:
        pool = self.ctx.parent
        assert pool is not None
        try:
            return await pool.ask(Echo())
        except AskCycle as cycle:
            return cycle


async def test_a_member_stopping_for_good_is_not_counted_to_take_an_ask() -> None:
    """The other member has quit, the pool is busy growing: the last one's ask is a cycle."""
    release, gate = trio.Event(), trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, gate, router=Balancing(), name="pool")
        pool.tell_nowait(Hold(release))  # one member holds
        await trio.testing.wait_all_tasks_blocked()
        pool.tell_nowait(Resize(3))  # the pool is busy starting member-3 until the gate opens
        await trio.testing.wait_all_tasks_blocked()
        pool.tell_nowait(Quit())  # the other member quits; the pool cannot see it yet
        await trio.testing.wait_all_tasks_blocked()
        release.set()
        with trio.fail_after(10):
            answer = await pool.ask(AskPool())
        assert isinstance(answer, AskCycle)
        assert trio.current_time() == 0
        gate.set()
