"""Review 8: a tell given up while it waited for room leaves no note of its wait behind."""

from __future__ import annotations

import gc
import weakref

import attrs
import trio

from trouper import Actor, ActorRef, handler
from trouper.testing import Deadlock, Delay, FaultPlan, Simulation, run_simulation


@attrs.frozen
class Block:
    """Make a ``Stuck`` wait for ever."""


@attrs.frozen
class Ping:
    """A message a ``Stuck`` would take at once."""


class Stuck(Actor):
    """Waits for ever on ``Block``."""

    @handler
    async def block(self, msg: Block) -> None:
        await trio.Event().wait()

    @handler
    async def ping(self, msg: Ping) -> None:
        pass


def test_the_task_of_a_tell_given_up_while_waiting_for_room_is_not_kept() -> None:
    """Its wait ended with it: the simulation holds on to neither the wait nor the task."""
    tellers: list[weakref.ref[trio.lowlevel.Task]] = []
    kept: list[int] = []

    async def teller(stuck: ActorRef[object]) -> None:
        tellers.append(weakref.ref(trio.lowlevel.current_task()))
        with trio.move_on_after(1):
            await stuck.tell(Ping())

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck", mailbox_size=1)
        await stuck.tell(Block())
        await trio.sleep(0.5)  # Block is being handled: the mailbox is empty
        await stuck.tell(Ping())  # fills it
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(teller, stuck)
        gc.collect()
        kept.append(sum(ref() is not None for ref in tellers))
        await trio.Event().wait()
        return None

    result = run_simulation(system, seed=1)
    assert isinstance(result.error, Deadlock), result.error
    assert result.error.waits == ()
    assert (len(tellers), kept) == (3, [0])


def test_the_task_of_an_ask_given_up_during_its_delay_is_not_kept() -> None:
    """As a given-up tell: an ask a ``Delay`` held back, cancelled meanwhile, leaves nothing."""
    askers: list[weakref.ref[trio.lowlevel.Task]] = []
    kept: list[int] = []

    async def asker(stuck: ActorRef[object]) -> None:
        askers.append(weakref.ref(trio.lowlevel.current_task()))
        with trio.move_on_after(0.5):
            await stuck.ask(Ping())  # held back 1s

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(asker, stuck)
        gc.collect()
        kept.append(sum(ref() is not None for ref in askers))
        await trio.Event().wait()
        return None

    plan = FaultPlan(Delay(("<main>", "/stuck"), 1.0, 1.0))
    result = run_simulation(system, seed=1, faults=plan)
    assert isinstance(result.error, Deadlock), result.error
    assert result.error.waits == ()
    assert (len(askers), kept) == (3, [0])
