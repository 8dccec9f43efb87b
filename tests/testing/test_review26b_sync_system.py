"""A system that is a plain function is the caller's mistake: raised, not a broken seed."""

from __future__ import annotations

import pytest

from trouper.testing import (
    DurableSimulation,
    Simulation,
    explore,
    explore_durable,
    run_durable_simulation,
    run_simulation,
)


def plain(sim: Simulation) -> int:
    """A synchronous function: nothing to await."""
    return 7


def plain_durable(sim: DurableSimulation) -> None:
    """A synchronous function, for a durable simulation."""


MESSAGE = (
    r"^system must be an async function taking the simulation: "
    r"\S*test_review26b_sync_system\.{name}\(sim\) returned {value}, "
    r"not an awaitable$"
)


def test_run_simulation_refuses_a_synchronous_system() -> None:
    """``run_simulation`` raises ``TypeError`` saying what the call returned."""
    with pytest.raises(TypeError, match=MESSAGE.format(name="plain", value="7")):
        run_simulation(plain, seed=0)  # type: ignore[arg-type]


def test_explore_raises_instead_of_reporting_seed_zero_broken() -> None:
    """``explore`` does not report the first seed as a seed that breaks the check."""
    with pytest.raises(TypeError, match=MESSAGE.format(name="plain", value="7")):
        explore(plain, seeds=range(3))  # type: ignore[arg-type]


def test_durable_simulations_refuse_a_synchronous_system() -> None:
    """``run_durable_simulation`` and ``explore_durable`` raise it too."""
    message = MESSAGE.format(name="plain_durable", value="None")
    with pytest.raises(TypeError, match=message):
        run_durable_simulation(plain_durable, seed=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=message):
        explore_durable(plain_durable, seeds=range(3))  # type: ignore[arg-type]
