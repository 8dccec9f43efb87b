"""Review: a deadlock report names the tasks waiting for room in a balancing pool's mailbox."""

from __future__ import annotations

import attrs
import trio

from trouper import Actor, handler
from trouper.routing import Balancing
from trouper.testing import Deadlock, Simulation, SimulationResult, run_simulation


@attrs.frozen
class Block:
    """Keep the member that takes it busy for ever."""


@attrs.frozen
class Fill:
    """Ask a ``Feeder`` to tell ``Block`` to the pool ``count`` times."""

    count: int


class Stuck(Actor):
    """Waits for ever on ``Block``."""

    @handler
    async def block(self, msg: Block) -> None:
        await trio.Event().wait()


class Feeder(Actor):
    """Tells the pool named ``pool`` one ``Block`` after another."""

    @handler
    async def fill(self, msg: Fill) -> None:
        pool = self.ctx.runtime.lookup("pool")
        assert pool is not None
        for _ in range(msg.count):
            await pool.tell(Block())


def deadlock_of(result: SimulationResult[object]) -> Deadlock:
    assert isinstance(result.error, Deadlock), result.error
    return result.error


def test_a_tell_waiting_for_room_in_a_balancing_pool_is_reported() -> None:
    """Two busy members, one queued ``Block``: the fourth tell waits for room in the pool."""

    async def system(sim: Simulation) -> object:
        pool = await sim.runtime.spawn_pool(
            Stuck, 2, router=Balancing(), name="pool", mailbox_size=1
        )
        for _ in range(4):
            await pool.tell(Block())
        return None

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == ("<main> waits for room in the mailbox of /pool (since t=0.0000)",)


def test_an_actor_waiting_for_room_in_a_balancing_pool_is_reported() -> None:
    """An actor's tell to a full balancing pool shows as that actor's wait."""

    async def system(sim: Simulation) -> object:
        await sim.runtime.spawn_pool(Stuck, 2, router=Balancing(), name="pool", mailbox_size=1)
        feeder = await sim.runtime.spawn(Feeder, name="feeder")
        await feeder.ask(Fill(4))
        return None

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == (
        "<main> waits for an answer from /feeder to Fill(count=4) (since t=0.0000)",
        "/feeder waits for room in the mailbox of /pool (since t=0.0000)",
    )


def test_a_tell_that_found_room_in_a_balancing_pool_is_no_wait() -> None:
    """A tell that got into the shared mailbox at once is not reported as a wait."""

    async def system(sim: Simulation) -> object:
        pool = await sim.runtime.spawn_pool(
            Stuck, 2, router=Balancing(), name="pool", mailbox_size=1
        )
        for _ in range(3):
            await pool.tell(Block())
        await trio.Event().wait()
        return None

    deadlock = deadlock_of(run_simulation(system, seed=1))
    assert deadlock.waits == ()
