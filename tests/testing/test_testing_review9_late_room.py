"""Review 9: a tell a ``Delay`` delivers late, that then waits for room, is in deadlock reports."""

from __future__ import annotations

import attrs
import trio

from trouper import Actor, ActorRef, handler
from trouper.routing import Balancing
from trouper.testing import Deadlock, Delay, FaultPlan, Simulation, run_simulation


@attrs.frozen
class Block:
    """Make a ``Stuck`` wait for ever."""


@attrs.frozen
class Ping:
    """A message a ``Stuck`` would take at once."""

    n: int


class Stuck(Actor):
    """Waits for ever on ``Block``."""

    @handler
    async def block(self, msg: Block) -> None:
        await trio.Event().wait()

    @handler
    async def ping(self, msg: Ping) -> None:
        pass


class Forwarder(Actor):
    """Tells what it is given to the actor it was made with."""

    def __init__(self, target: ActorRef[object]) -> None:
        self.target = target

    @handler
    async def forward(self, msg: Ping) -> None:
        await self.target.tell(msg)


async def system(sim: Simulation) -> object:
    stuck = await sim.runtime.spawn(Stuck, name="stuck", mailbox_size=1)
    forwarder = await sim.runtime.spawn(Forwarder, stuck, name="fwd")
    await stuck.tell(Block())  # handled at once: the actor waits for ever
    await trio.sleep(0.5)
    await stuck.tell(Ping(1))  # fills the mailbox
    await forwarder.tell(Ping(2))  # told on at t=0.5, delayed to t=1.5, then waits for room
    await trio.Event().wait()
    return None


def test_a_late_tell_waiting_for_room_is_listed_in_the_deadlock_report() -> None:
    """Listed as the other room waits are: who sent it, where it waits, since when it waits."""
    plan = FaultPlan(Delay(("/fwd", "/stuck"), 1.0, 1.0))
    result = run_simulation(system, seed=1, faults=plan)
    assert isinstance(result.error, Deadlock), result.error
    assert result.error.waits == (
        "/fwd's late tell waits for room in the mailbox of /stuck (since t=1.5000)",
    )


def test_late_tells_of_one_message_are_each_listed_in_told_order() -> None:
    """The same message told late twice waits twice; the report keeps the order they were told."""
    ping = Ping(2)

    async def twice(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck", mailbox_size=1)
        first = await sim.runtime.spawn(Forwarder, stuck, name="fwd")
        second = await sim.runtime.spawn(Forwarder, stuck, name="fwd2")
        await stuck.tell(Block())
        await trio.sleep(0.5)
        await stuck.tell(Ping(1))  # fills the mailbox
        await first.tell(ping)  # delayed to t=1.5
        await trio.sleep(0.25)
        await second.tell(ping)  # delayed to t=1.75
        await trio.Event().wait()
        return None

    plan = FaultPlan(Delay(("/fwd*", "/stuck"), 1.0, 1.0))
    result = run_simulation(twice, seed=1, faults=plan)
    assert isinstance(result.error, Deadlock), result.error
    assert result.error.waits == (
        "/fwd's late tell waits for room in the mailbox of /stuck (since t=1.5000)",
        "/fwd2's late tell waits for room in the mailbox of /stuck (since t=1.7500)",
    )


def test_a_late_tell_waiting_for_room_in_a_balancing_pool_is_listed_for_the_pool() -> None:
    """A pool's late tell waits in its shared mailbox: listed as waiting in the pool's."""

    async def pooled(sim: Simulation) -> object:
        pool = await sim.runtime.spawn_pool(
            Stuck, 1, router=Balancing(), name="pool", mailbox_size=1
        )
        forwarder = await sim.runtime.spawn(Forwarder, pool, name="fwd")
        await pool.tell(Block())  # the member waits for ever
        await trio.sleep(0.5)
        await pool.tell(Ping(1))  # fills the shared mailbox
        await forwarder.tell(Ping(2))  # delayed to t=1.5, then waits for room
        await trio.Event().wait()
        return None

    plan = FaultPlan(Delay(("/fwd", "/pool"), 1.0, 1.0))
    result = run_simulation(pooled, seed=1, faults=plan)
    assert isinstance(result.error, Deadlock), result.error
    assert result.error.waits == (
        "/fwd's late tell waits for room in the mailbox of /pool (since t=1.5000)",
    )
