"""Review: a deadlock report lists only the waits still going on, not asks that ended."""

from __future__ import annotations

import contextlib

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.testing import Deadlock, Drop, FaultPlan, Simulation, run_simulation


@attrs.frozen
class Block:
    """Ask a ``Stuck`` to wait for ever."""


@attrs.frozen
class Ping:
    """Ask a ``Stuck`` for an answer it gives at once."""


class Stuck(Actor):
    """Waits for ever on ``Block``; answers ``Ping``."""

    @handler
    async def block(self, msg: Block) -> None:
        await trio.Event().wait()

    @handler
    async def ping(self, msg: Ping) -> str:
        return "pong"


def deadlock_of(result: trouper.testing.SimulationResult[object]) -> Deadlock:
    assert isinstance(result.error, Deadlock)
    return result.error


def test_an_ask_its_asker_gave_up_is_not_reported_as_a_wait() -> None:
    """An ask cancelled by its asker's deadline is over, though its handler still runs."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        with trio.move_on_after(1):
            await stuck.ask(Block())
        await trio.Event().wait()  # the real deadlock: not on an actor
        return None

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == ()
    assert str(deadlock).endswith("\n  the system waits, but not on an actor")


def test_an_ask_answered_by_the_actors_stop_is_not_reported_as_a_wait() -> None:
    """An ask queued when its actor stopped got ``ActorStopped``: it is over."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck", shutdown=1.0)
        stuck.tell_nowait(Block())
        stopped: list[str] = []

        async def ask_queued() -> None:
            with contextlib.suppress(trouper.ActorStopped):
                await stuck.ask(Ping())
            stopped.append("answered")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_queued)
            await trio.sleep(0.5)  # the ask is queued behind Block
            await sim.runtime.stop(stuck)
        assert stopped == ["answered"]
        await trio.Event().wait()
        return None

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == ()


def test_a_dropped_ask_whose_asker_gave_up_is_not_reported_as_a_wait() -> None:
    """A lost request waits until the asker's deadline; after it, it is no wait."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        with trio.move_on_after(1):
            await stuck.ask(Ping())
        await trio.Event().wait()
        return None

    plan = FaultPlan(Drop(("<main>", "/stuck"), probability=1.0))
    deadlock = deadlock_of(run_simulation(system, seed=1, faults=plan))
    assert deadlock.waits == ()


def test_a_wait_still_going_on_is_reported_beside_one_that_ended() -> None:
    """The ask that still waits is listed; the one that ended before it is not."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        other = await sim.runtime.spawn(Stuck, name="other")
        with trio.move_on_after(1):
            await stuck.ask(Block())
        await other.ask(Block())
        return None

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == ("<main> waits for an answer from /other to Block() (since t=1.0000)",)


def test_a_tell_that_gave_up_waiting_for_room_is_not_reported_as_a_wait() -> None:
    """A tell cancelled while the mailbox was full is over."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck", mailbox_size=1)
        await stuck.tell(Block())
        await trio.sleep(0.5)  # Block is being handled: the mailbox is empty
        await stuck.tell(Ping())
        with trio.move_on_after(1):
            await stuck.tell(Ping())
        await trio.Event().wait()
        return None

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == ()


def test_a_system_that_waits_for_quiescence_is_not_taken_for_a_deadlock() -> None:
    """``wait_all_tasks_blocked`` in the system wakes with the watchdog: that is progress."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        await stuck.tell(Ping())
        await trio.testing.wait_all_tasks_blocked()
        await trio.testing.wait_all_tasks_blocked()
        return await stuck.ask(Ping())

    result = run_simulation(system, seed=1)
    assert (result.error, result.value) == (None, "pong")


def test_a_deadlock_after_waiting_for_quiescence_is_still_found() -> None:
    """A system that waited for quiescence and then waits for ever is a deadlock."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        await trio.testing.wait_all_tasks_blocked()
        return await stuck.ask(Block())

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == ("<main> waits for an answer from /stuck to Block() (since t=0.0000)",)
