"""Review: an ask a pool refuses at once still lets other tasks run (a Trio checkpoint).

As ``Cell.ask`` does: without one, a loop retrying an ask to a stopped pool,
or one whose members take no such message, never yields, so nothing else
runs, not even what would cancel the loop.
"""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import ActorStopped, AskCycle, UnhandledMessage
from trouper.routing import Balancing, Broadcast, ConsistentHash, RoundRobin, Router

ROUTERS = [
    pytest.param(Balancing(), id="balancing"),
    pytest.param(RoundRobin(), id="round-robin"),
    pytest.param(Broadcast(), id="broadcast"),
    pytest.param(ConsistentHash(lambda message: 0), id="consistent-hash"),
]


@attrs.frozen
class Ping:
    """What the members answer."""


@attrs.frozen
class Stray:
    """What no member's handler takes."""


@attrs.frozen
class AskPool:
    """Ask the member's own pool for a ``Ping``, expecting an ``AskCycle`` at once."""


class Member(Actor):
    """Answers a ping; asks its own pool when told to."""

    @handler
    async def ping(self, message: Ping) -> str:
        return "pong"

    @handler
    async def ask_pool(self, message: AskPool) -> str:
        pool = self.ctx.parent
        assert pool is not None
        with trio.testing.assert_checkpoints(), pytest.raises(AskCycle):
            await pool.ask(Ping())
        return "checkpointed"


@pytest.mark.parametrize("router", ROUTERS)
async def test_an_ask_to_a_stopped_pool_checkpoints(router: Router) -> None:
    """A stopped pool's refusal is a schedule point, whatever its router."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=router, name="gone")
        await rt.stop(pool)
        with trio.testing.assert_checkpoints(), pytest.raises(ActorStopped):
            await pool.ask(Ping())


@pytest.mark.parametrize("router", ROUTERS)
async def test_an_ask_no_member_handles_checkpoints(router: Router) -> None:
    """A message the members take no handler for is refused at a schedule point."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=router, name="picky")
        with trio.testing.assert_checkpoints(), pytest.raises(UnhandledMessage):
            await pool.ask(Stray())


@pytest.mark.parametrize("router", ROUTERS)
async def test_a_retry_loop_on_a_stopped_pool_lets_other_tasks_run(router: Router) -> None:
    """A loop retrying a refused ask lets another task run before its hundredth try."""
    ran = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        pool = await rt.spawn_pool(Member, 2, router=router, name="retried")
        await rt.stop(pool)
        nursery.start_soon(_set, ran)
        for _ in range(100):
            if ran.is_set():
                break
            with pytest.raises(ActorStopped):
                await pool.ask(Ping())
        assert ran.is_set()


@pytest.mark.parametrize(
    ("router", "answer"),
    [
        pytest.param(Balancing(), "checkpointed", id="balancing"),
        pytest.param(Broadcast(), ["checkpointed"], id="broadcast"),  # (every member's answer)
    ],
)
async def test_an_ask_cycle_found_by_the_pool_checkpoints(router: Router, answer: object) -> None:
    """A member asking its own one-member pool gets ``AskCycle`` at a schedule point."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 1, router=router, name="self-asking")
        with trio.fail_after(10):
            assert await pool.ask(AskPool()) == answer


async def _set(event: trio.Event) -> None:
    event.set()


def _broken_key(message: object) -> object:
    raise KeyError("no key")


async def test_a_tell_whose_key_fails_checkpoints() -> None:
    """A hash pool's tell that ``key`` refuses raises its error at a schedule point."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=ConsistentHash(_broken_key), name="keyless")
        with trio.testing.assert_checkpoints(), pytest.raises(KeyError):
            await pool.tell(Ping())


async def test_an_ask_whose_key_fails_checkpoints() -> None:
    """A hash pool's ask that ``key`` refuses raises its error at a schedule point."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 2, router=ConsistentHash(_broken_key), name="keyless")
        with trio.testing.assert_checkpoints(), pytest.raises(KeyError):
            await pool.ask(Ping())
