"""Review: a run whose runtime's shutdown can never end fails, as a run stuck before it does."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import trio
from shutdown_support import Stubborn, Ticking

from trouper.testing import (
    Deadlock,
    DurableSimulationResult,
    MaxTimeExceeded,
    Simulation,
    SimulationResult,
    run_durable_simulation,
    run_simulation,
    simulate,
)


@pytest.mark.parametrize("run", [run_simulation, run_durable_simulation])
def test_a_shutdown_that_waits_for_ever_is_a_deadlock(
    run: Callable[..., SimulationResult[str] | DurableSimulationResult[str]],
) -> None:
    """No deadline bounds the shutdown: nothing can ever happen, the run says so (no hang)."""

    async def system(sim: Simulation) -> str:
        await sim.runtime.spawn(Stubborn, name="stubborn", shutdown=math.inf)
        return "done"

    result = run(system, seed=1, shutdown_timeout=math.inf)
    assert isinstance(result.error, Deadlock)
    assert str(result.error).startswith("deadlock at t=0.0000: every task waits")
    assert result.value == "done"


async def test_a_shutdown_that_goes_on_past_max_time_exceeds_it() -> None:
    """Virtual time passes in the shutdown, for ever: max_time bounds it as any run."""
    start = trio.current_time()
    with trio.fail_after(1000):  # only reached if the run goes on
        with pytest.raises(MaxTimeExceeded, match=r"^seed 1 has not finished at t=60\.0000 "):
            async with simulate(seed=1, max_time=60, shutdown_timeout=math.inf) as sim:
                await sim.runtime.spawn(Ticking, name="ticking", shutdown=math.inf)
    assert trio.current_time() == start + 60
