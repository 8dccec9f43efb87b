"""Review: a durable simulation ends as ``run_simulation`` does: errors as raised, never hung."""

from __future__ import annotations

import math

import trio
from shutdown_support import Ticking

from trouper.testing import (
    DurableSimulation,
    MaxTimeExceeded,
    run_durable_simulation,
    run_simulation,
)


async def failing(sim: DurableSimulation) -> None:
    raise ValueError("the system's own error")


def test_the_systems_error_is_the_results_error_as_raised() -> None:
    """Not wrapped in an ExceptionGroup of the simulation's nursery, as in run_simulation."""
    durable = run_durable_simulation(failing, seed=1, crashes=(1.0,))
    plain = run_simulation(failing, seed=1)  # type: ignore[arg-type]
    assert type(durable.error) is type(plain.error) is ValueError
    assert str(durable.error) == str(plain.error) == "the system's own error"


def test_a_shutdown_that_goes_on_past_max_time_exceeds_it() -> None:
    """Virtual time passes in the shutdown for ever: max_time bounds it, across incarnations."""

    async def system(sim: DurableSimulation) -> str:
        await sim.runtime.spawn(Ticking, name="ticking", shutdown=math.inf)
        await trio.sleep(2)
        return "done"

    result = run_durable_simulation(
        system, seed=1, crashes=(1.0,), max_time=60, shutdown_timeout=math.inf
    )
    assert isinstance(result.error, MaxTimeExceeded)
    assert str(result.error).startswith("seed 1 has not finished at t=60.0000 ")
    assert result.crashes == (1.0,)
