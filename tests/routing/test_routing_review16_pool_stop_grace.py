"""A pool whose members are all busy stops within one shutdown grace, as one busy actor does."""

from __future__ import annotations

import logging

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.routing import Balancing, Broadcast, RoundRobin, Router


@attrs.frozen
class Hold:
    pass


class Holder(Actor):
    """Holds its handler for ever on ``Hold``: only its stop's deadline ends it."""

    @handler
    async def hold(self, message: Hold) -> None:
        await trio.sleep_forever()


async def test_a_broadcast_pool_held_in_every_member_closes_the_runtime_at_the_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broadcast holding each member's handler ends the runtime at the 5 s grace, not 10 s."""
    caplog.set_level(logging.WARNING)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Holder, 3, router=Broadcast())
        await pool.tell(Hold())
        await trio.testing.wait_all_tasks_blocked()
        closing = trio.current_time()
    assert trio.current_time() - closing == 5.0
    assert "did not stop" not in caplog.text


@pytest.mark.parametrize(
    ("router", "tells"),
    [(Broadcast(), 1), (RoundRobin(), 3), (Balancing(), 3)],
    ids=["broadcast", "round-robin", "balancing"],
)
async def test_stopping_a_pool_whose_members_are_all_held_takes_one_grace(
    router: Router, tells: int
) -> None:
    """rt.stop on a pool whose every member is held returns at the members' grace."""
    async with trouper.open_runtime(shutdown=2.0) as rt:
        pool = await rt.spawn_pool(Holder, 3, router=router)
        for _ in range(tells):
            await pool.tell(Hold())
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await rt.stop(pool)
        assert trio.current_time() - start == 2.0
        with pytest.raises(trouper.ActorStopped):
            await pool.ask(Hold())


async def test_a_held_pool_beside_a_held_actor_closes_the_runtime_within_the_cutoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A held actor and a held broadcast pool of 4 are cut off at one 4 s grace from the close.

    Each handler's grace counts from the close's start (da707d3): 4 s, not 4 s + 4 s.
    """
    caplog.set_level(logging.WARNING)
    async with trouper.open_runtime(shutdown=4.0) as rt:
        actor = await rt.spawn(Holder)
        pool = await rt.spawn_pool(Holder, 4, router=Broadcast())
        await actor.tell(Hold())
        await pool.tell(Hold())
        await trio.testing.wait_all_tasks_blocked()
        closing = trio.current_time()
    assert trio.current_time() - closing == 4.0
    assert "did not stop" not in caplog.text
