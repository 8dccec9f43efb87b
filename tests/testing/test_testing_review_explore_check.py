"""Review: a check that raises something else than ``AssertionError`` still names its seed."""

from __future__ import annotations

import pytest

from trouper.testing import (
    DurableSimulation,
    DurableSimulationResult,
    Simulation,
    SimulationResult,
    explore,
    explore_durable,
    run_simulation,
)


async def seeded_number(sim: Simulation) -> int:
    return sim.random.randrange(1000)


def test_an_error_of_the_check_says_which_seed_and_how_to_replay_it() -> None:
    """The error goes up as it is, noted with the seed and the replay line."""

    def check(result: SimulationResult[int]) -> None:
        if result.seed == 2:
            raise KeyError("no such account")

    with pytest.raises(KeyError) as raised:
        explore(seeded_number, seeds=range(5), check=check)
    assert raised.value.__notes__ == [
        f"raised by the check of seed 2; replay: "
        f"run_simulation({__name__}.seeded_number, seed=2, faults=FaultPlan())"
    ]
    assert run_simulation(seeded_number, seed=2).ok


async def durable_number(sim: DurableSimulation) -> int:
    return sim.random.randrange(1000)


def test_an_error_of_a_durable_check_says_which_seed_and_crashes() -> None:
    """``explore_durable`` notes the seed and the crash instants it drew."""

    def check(result: DurableSimulationResult[int]) -> None:
        if result.seed == 1:
            raise KeyError("no such account")

    with pytest.raises(KeyError) as raised:
        explore_durable(durable_number, seeds=range(3), crashes=(5.0,), check=check)
    assert raised.value.__notes__ == [
        "raised by the check of seed 1 (crashes at []); replay: run_durable_simulation("
        f"{__name__}.durable_number, seed=1, crashes=(5.0,), faults=FaultPlan())"
    ]
