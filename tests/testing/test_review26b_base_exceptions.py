"""A ``BaseException`` of the system (``pytest.fail``, ``SystemExit``) comes out as it is.

Not in a group of the simulation's own nurseries: ``open_runtime`` unwraps it the same way, and
``pytest.raises`` (or pytest itself, for ``pytest.fail`` and ``pytest.skip``) must see it.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper.testing import (
    DurableSimulation,
    Simulation,
    explore,
    explore_durable,
    run_durable_simulation,
    run_simulation,
    simulate,
)


class Halt(BaseException):
    """Not an ``Exception``: what ``pytest.fail`` or ``sys.exit`` raise are of this kind."""


class Echo(trouper.Actor):
    """Answers what it is asked."""

    @trouper.handler
    async def echo(self, message: int) -> int:
        return message


async def halts(sim: Simulation) -> None:
    """Asks an actor, waits, then raises a ``BaseException``."""
    echo = await sim.runtime.spawn(Echo, name="echo")
    await echo.ask(1)
    await trio.sleep(1)
    raise Halt("halted")


async def halts_durably(sim: DurableSimulation) -> None:
    """The same in a durable simulation, in its second incarnation."""
    await trio.sleep(1)
    raise Halt(f"halted in incarnation {sim.incarnation}")


async def test_simulate_lets_a_base_exception_of_its_block_out_as_it_is(
    runtime: trouper.Runtime,
) -> None:
    """``async with simulate()`` raises it bare, as ``open_runtime`` does."""

    async def halt_inside() -> None:
        async with simulate(seed=3) as sim:
            await sim.runtime.spawn(Echo, name="echo")
            raise Halt("inside")

    with pytest.raises(Halt, match=r"^inside$"):
        await halt_inside()


def test_run_simulation_lets_it_out_as_it_is() -> None:
    """``run_simulation`` raises it bare (it is no result: not an ``Exception``)."""
    with pytest.raises(Halt, match=r"^halted$"):
        run_simulation(halts, seed=3)


def test_explore_lets_it_out_with_the_seed_and_the_replay() -> None:
    """``explore`` raises it bare, with a note naming the seed and the line that replays it."""
    with pytest.raises(Halt, match=r"^halted\n") as raised:
        explore(halts, seeds=[7])
    assert raised.value.__notes__ == [
        f"raised by the system in seed 7; replay: run_simulation({halts.__module__}.halts, "
        "seed=7, faults=FaultPlan())"
    ]


def test_durable_simulations_let_it_out_as_it_is() -> None:
    """``run_durable_simulation`` and ``explore_durable`` raise it bare too, after a kill."""
    with pytest.raises(Halt, match=r"^halted in incarnation 1$"):
        run_durable_simulation(halts_durably, seed=3, crashes=(0.5,))
    with pytest.raises(Halt, match=r"^halted in incarnation 1\n") as raised:
        explore_durable(halts_durably, seeds=[2], crashes=(0.5,))
    assert raised.value.__notes__ == [
        f"raised by the system in seed 2 (crashes at [0.5]); replay: run_durable_simulation("
        f"{halts_durably.__module__}.halts_durably, seed=2, crashes=(0.5,), faults=FaultPlan())"
    ]
