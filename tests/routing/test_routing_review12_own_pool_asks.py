"""Review 12: a member asking its own round-robin pool is not refused while another can answer.

The turn may fall on the asker itself, or on a member waiting on it: that member
can take nothing before the asker's reply, so the engine refused the ask with
``AskCycle`` although other members were free. A round-robin pool passes over
such members for an ask from a handler, as it passes over a stopped one.
"""

from __future__ import annotations

import attrs
import pytest

from trouper import Actor, Runtime, handler
from trouper.errors import AskCycle, HandlerError


@attrs.frozen
class Outer:
    """Ask the pool ``times`` times, one after the other."""

    times: int


@attrs.frozen
class Inner:
    """Answered with the answering member's path."""


class Member(Actor):
    """Asks its own pool (its parent) for ``Inner`` on ``Outer``."""

    @handler
    async def outer(self, message: Outer) -> list[str]:
        pool = self.ctx.parent
        assert pool is not None
        return [str(await pool.ask(Inner())) for _ in range(message.times)]

    @handler
    async def inner(self, message: Inner) -> str:
        return self.ctx.self_ref.address.path.rpartition("/")[2]


async def test_the_turn_passes_over_the_asking_member(runtime: Runtime) -> None:
    """member-1 asks three times: the third turn is its own, and goes to member-2 instead."""
    pool = await runtime.spawn_pool(Member, 3)
    assert await pool.ask(Outer(3)) == ["member-2", "member-3", "member-2"]
    # The turn goes on from where the passed-over ask left it.
    assert await pool.ask(Inner()) == "member-3"


async def test_the_only_member_asking_its_pool_still_gets_ask_cycle(runtime: Runtime) -> None:
    """With nobody else to take it, the ask is refused at once, as before."""
    pool = await runtime.spawn_pool(Member, 1)
    with pytest.raises(HandlerError) as info:
        await pool.ask(Outer(1))
    assert isinstance(info.value.__cause__, AskCycle)


async def test_an_ask_from_outside_keeps_the_plain_turn(runtime: Runtime) -> None:
    """No handler asks: every member in turn, nothing passed over."""
    pool = await runtime.spawn_pool(Member, 2)
    assert [await pool.ask(Inner()) for _ in range(3)] == ["member-1", "member-2", "member-1"]
