"""A tell a ``Duplicate`` doubles waits for room like any tell: a deadlock report names it."""

from __future__ import annotations

import trio

import trouper
from trouper.testing import Deadlock, Duplicate, FaultPlan, Simulation, run_simulation


class Stuck(trouper.Actor):
    """Never finishes its first message, so its mailbox stays full."""

    @trouper.handler
    async def take(self, message: int) -> None:
        await trio.sleep_forever()


async def fill(sim: Simulation) -> None:
    """Tell a one-slot mailbox more than it holds: the last tell waits for room for ever."""
    stuck = await sim.runtime.spawn(Stuck, name="stuck", mailbox_size=1)
    for number in range(4):
        await stuck.tell(number)


def test_a_doubled_tell_waiting_for_room_is_named_in_the_deadlock() -> None:
    """With every tell doubled, the deadlock still says <main> waits for room in /stuck."""
    plain = run_simulation(fill, seed=1)
    doubled = run_simulation(
        fill, seed=1, faults=FaultPlan(Duplicate(("<main>", "/stuck"), probability=1.0))
    )
    assert isinstance(plain.error, Deadlock)
    assert isinstance(doubled.error, Deadlock)
    assert doubled.trace.filter("fault", contains="duplicate")
    wait = "<main> waits for room in the mailbox of /stuck (since t=0.0000)"
    assert plain.error.waits == (wait,)
    assert doubled.error.waits == (wait,)
