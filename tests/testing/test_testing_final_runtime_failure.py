"""Final review: a runtime that fails (a give-up past the root) ends the run with its error.

The error leaves ``running(runtime)`` after the system was cancelled; both
simulations return it as the result's error, as it was raised.
"""

from __future__ import annotations

import trio

from trouper import Actor, RestartIntensityExceeded, handler
from trouper.supervision import OneForOne
from trouper.testing import DurableSimulation, Simulation, run_durable_simulation, run_simulation


class Fragile(Actor):
    """Fails on every message."""

    @handler
    async def crash(self, message: str) -> None:
        raise RuntimeError(message)


async def system(sim: Simulation) -> None:
    ref = await sim.runtime.spawn(Fragile, name="fragile")
    await ref.tell("one")
    await ref.tell("two")
    await trio.sleep_forever()


GIVE_UP = {"root_strategy": OneForOne(max_restarts=1), "on_root_give_up": "escalate"}


def test_a_simulated_runtime_that_fails_ends_the_run_with_its_error() -> None:
    """run_simulation's result holds the root's give-up, not a Deadlock nor None."""
    result = run_simulation(system, seed=1, **GIVE_UP)  # type: ignore[arg-type]
    assert type(result.error) is RestartIntensityExceeded


def test_a_durable_simulated_runtime_that_fails_ends_the_run_with_its_error() -> None:
    """run_durable_simulation's result holds the root's give-up, as run_simulation's does."""

    async def durable_system(sim: DurableSimulation) -> None:
        await system(sim)

    result = run_durable_simulation(durable_system, seed=1, **GIVE_UP)  # type: ignore[arg-type]
    assert type(result.error) is RestartIntensityExceeded
