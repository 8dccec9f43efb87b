"""Review: a run that loops without ever letting virtual time pass is bounded too.

The runs here take a small ``spin_steps`` (the default, 200 000, is pinned in
``test_testing_review5_spin_steps``) so that they spin out in milliseconds.
"""

from __future__ import annotations

import pickle

import trio
import trio.lowlevel

from trouper import Actor, Reject, handler
from trouper.testing import (
    DurableSimulation,
    MaxTimeExceeded,
    Simulation,
    run_durable_simulation,
    run_simulation,
)


class Busy(Actor):
    """Refuses every request at once: an answer, no failure, no time passing."""

    @handler
    async def refuse(self, msg: int) -> Reject:
        return Reject(ValueError("busy"))


async def retry_a_refusal(sim: Simulation) -> object:
    """Retry an ask that is refused at once, for ever: no task ever waits, time never passes."""
    busy = await sim.runtime.spawn(Busy, name="busy")
    while True:
        try:
            return await busy.ask(1)
        except ValueError:
            continue


class Spinner(Actor):
    """Its handler loops on checkpoints for ever."""

    @handler
    async def spin(self, msg: int) -> None:
        while True:
            await trio.lowlevel.checkpoint()


async def spin_in_an_actor(sim: Simulation) -> object:
    """The system waits for an actor that never lets time pass, nor stops when told."""
    spinner = await sim.runtime.spawn(Spinner, name="spinner")
    return await spinner.ask(1)


def spin_error(result: object) -> MaxTimeExceeded:
    error = getattr(result, "error", None)
    assert isinstance(error, MaxTimeExceeded), error
    return error


def test_a_system_that_spins_at_one_instant_fails_with_max_time_exceeded() -> None:
    """A retry loop that never waits ends the run, saying it spun, instead of hanging it."""
    error = spin_error(run_simulation(retry_a_refusal, seed=1, max_time=10, spin_steps=2000))
    assert (error.seed, error.time, error.steps) == (1, 0.0, 2000)
    assert str(error).startswith(
        "seed 1 spins at t=0.0000: 2000 task steps without virtual time passing, so it can "
        "never reach max_time=10 (a loop that never waits, such as a retry of an ask that "
        "fails at once; max_time=None lifts the bound)"
    )


def test_an_actor_that_spins_through_its_stop_is_bounded_too() -> None:
    """The spin goes on in the runtime's shutdown: the run is cut short all the same."""
    error = spin_error(run_simulation(spin_in_an_actor, seed=1, spin_steps=2000))
    assert error.waits == ("<main> waits for an answer from /spinner to 1 (since t=0.0000)",)


def test_a_durable_simulation_that_spins_is_bounded() -> None:
    """Every incarnation is bounded the same way."""

    async def system(sim: DurableSimulation) -> object:
        while True:
            await trio.lowlevel.checkpoint()

    spin_error(run_durable_simulation(system, seed=1, spin_steps=2000))


def test_the_spin_error_pickles() -> None:
    """Its steps travel with it."""
    error = MaxTimeExceeded(1, 0.0, 10.0, (), steps=5)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.steps, str(copy)) == (5, str(error))
