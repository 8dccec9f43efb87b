"""Review 5: the spin bound of a simulation is an option (``spin_steps=``), checked and replayed."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel

from trouper.testing import (
    DurableSimulation,
    MaxTimeExceeded,
    Simulation,
    explore,
    explore_durable,
    run_durable_simulation,
    run_simulation,
    simulate,
)


async def spin(sim: Simulation) -> None:
    """Loop on checkpoints for ever: time never passes."""
    while True:
        await trio.lowlevel.checkpoint()


async def bound(sim: Simulation) -> int:
    """Return the run's spin bound."""
    return sim.spin_steps


def test_the_default_spin_bound_is_200_000_steps() -> None:
    """What the docs say, seen through the running simulation, without spinning that long."""
    assert run_simulation(bound, seed=1).value == 200_000
    assert run_durable_simulation(bound, seed=1).value == 200_000


def test_spin_steps_sets_the_bound_of_run_simulation() -> None:
    """A run spins out at the bound it was given, and says so."""
    result = run_simulation(spin, seed=1, max_time=10, spin_steps=100)
    error = result.error
    assert isinstance(error, MaxTimeExceeded), error
    assert (error.time, error.steps) == (0.0, 100)
    assert str(error).startswith("seed 1 spins at t=0.0000: 100 task steps without virtual time")


def test_spin_steps_sets_the_bound_of_run_durable_simulation() -> None:
    """Every incarnation of a durable run is bounded by it."""

    async def system(sim: DurableSimulation) -> None:
        while True:
            await trio.lowlevel.checkpoint()

    error = run_durable_simulation(system, seed=1, crashes=(0.0,), spin_steps=64).error
    assert isinstance(error, MaxTimeExceeded), error
    assert error.steps == 64


async def test_spin_steps_sets_the_bound_of_simulate() -> None:
    """A block that spins is ended at the bound given to ``simulate``."""
    seen: list[int] = []

    async def block() -> None:
        async with simulate(seed=1, spin_steps=50) as sim:
            seen.append(sim.spin_steps)
            await spin(sim)

    with pytest.raises(MaxTimeExceeded) as caught:
        await block()
    assert (seen, caught.value.steps) == ([50], 50)


def test_explore_runs_with_spin_steps_and_replays_it() -> None:
    """The replay line carries a bound that is not the default, or it would run another test."""
    report = explore(spin, seeds=[3], spin_steps=100)
    assert isinstance(report.problem, MaxTimeExceeded)
    assert report.problem.steps == 100
    assert report.replay is not None
    assert report.replay.endswith("seed=3, faults=FaultPlan(), spin_steps=100)")
    default = explore(bound, seeds=[3], check=lambda result: result.value == 0)
    assert default.replay is not None
    assert default.replay.endswith(".bound, seed=3, faults=FaultPlan())")


def test_explore_durable_runs_with_spin_steps_and_replays_it() -> None:
    """As ``explore``."""

    async def system(sim: DurableSimulation) -> None:
        while True:
            await trio.lowlevel.checkpoint()

    report = explore_durable(system, seeds=[2], spin_steps=100)
    assert isinstance(report.problem, MaxTimeExceeded)
    assert report.problem.steps == 100
    assert report.replay is not None
    assert report.replay.endswith("spin_steps=100)")


@pytest.mark.parametrize("steps", [0, -1, 1.5, True, "100", None])
def test_a_spin_bound_that_is_not_a_positive_int_is_refused(steps: object) -> None:
    """Every entry point refuses it before any run, saying what it got."""
    message = rf"^spin_steps must be an int > 0, got {steps!r}$"
    with pytest.raises(ValueError, match=message):
        run_simulation(bound, seed=1, spin_steps=steps)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        run_durable_simulation(bound, seed=1, spin_steps=steps)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        explore(bound, seeds=[1], spin_steps=steps)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        explore_durable(bound, seeds=[1], spin_steps=steps)  # type: ignore[arg-type]


async def test_simulate_refuses_a_spin_bound_that_is_not_a_positive_int() -> None:
    """As the others."""
    with pytest.raises(ValueError, match=r"^spin_steps must be an int > 0, got 0$"):
        async with simulate(seed=1, spin_steps=0):
            pass  # pragma: no cover
