"""Review: a system stuck while a timer ticks stops at ``max_time``, naming its seed.

The deadlock watchdog sees nothing while a timer is pending, so a system that
waits for ever beside a periodic timer ran for ever, and ``explore`` with it.
"""

from __future__ import annotations

import importlib
import math

import attrs
import pytest
import trio

import trouper.testing
from trouper import Actor, handler
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


@attrs.frozen
class Tick:
    """A tick of a ``Ticker``'s timer."""


@attrs.frozen
class Block:
    """Ask a ``Ticker`` to wait for ever."""


class Ticker(Actor):
    """Ticks every virtual second; waits for ever on ``Block``."""

    period = 1.0
    """Virtual seconds between two ticks."""

    async def on_start(self) -> None:
        self.ctx.every(self.period, self.ctx.self_ref, Tick())

    @handler
    async def tick(self, message: Tick) -> None:
        pass

    @handler
    async def block(self, message: Block) -> None:
        await trio.Event().wait()


class MinuteTicker(Ticker):
    """Ticks every virtual minute: a timer always pending, for hours, in few steps."""

    period = 60.0


async def stuck(sim: Simulation, ticker: type[Ticker] = Ticker) -> None:
    """Start a ``Ticker``, then wait for ever on another actor's answer."""
    await sim.runtime.spawn(ticker, name="ticker")
    blocked = await sim.runtime.spawn(ticker, name="blocked")
    await blocked.ask(Block())


async def stuck_for_hours(sim: Simulation) -> None:
    """``stuck`` with ``MinuteTicker``s: past the default bound at 60 ticks an hour, not 3600."""
    await stuck(sim, MinuteTicker)


async def long(sim: Simulation) -> float:
    """Tick (every virtual minute) for two virtual hours, then finish."""
    await sim.runtime.spawn(MinuteTicker, name="ticker")
    await trio.sleep(7200)
    return sim.now()


def over_time(error: BaseException | None) -> MaxTimeExceeded:
    assert isinstance(error, MaxTimeExceeded)
    return error


def test_a_stuck_system_with_a_periodic_timer_stops_at_max_time() -> None:
    """The run ends at ``max_time`` virtual seconds with an error naming the seed and waits."""
    result = run_simulation(stuck, seed=3, max_time=60)
    error = over_time(result.error)
    assert (error.time, error.max_time, error.seed) == (60.0, 60, 3)
    assert str(error) == (
        "seed 3 has not finished at t=60.0000 (max_time=60): it never deadlocked, "
        "but a timer is always pending; pass a larger max_time (or None) if it needs longer\n"
        "  <main> waits for an answer from /blocked to Block() (since t=0.0000)"
    )
    assert result.trace.filter("fault")[-1].detail == str(error).splitlines()[0]


def test_the_default_max_time_is_one_virtual_hour() -> None:
    """With no ``max_time`` given, a stuck run stops after 3600 virtual seconds."""
    assert over_time(run_simulation(stuck_for_hours, seed=1).error).time == 3600.0


def test_max_time_none_lets_a_run_go_on_as_long_as_it_needs() -> None:
    """``max_time=None`` sets no bound: a two-hour system finishes."""
    result = run_simulation(long, seed=1, max_time=None)
    assert (result.error, result.value) == (None, 7200.0)


def test_explore_stops_a_stuck_seed_and_prints_a_replay_line_that_stops_the_same() -> None:
    """``explore`` reports the stuck seed with a replay line carrying ``max_time``."""
    report = explore(stuck, seeds=range(5), max_time=30.0)
    assert report.failure is not None
    assert report.failure.seed == 0
    assert isinstance(report.problem, MaxTimeExceeded)
    assert report.replay == (
        f"run_simulation({__name__}.stuck, seed=0, faults=FaultPlan(), max_time=30.0)"
    )
    assert f"replay:  {report.replay}" in str(report).splitlines()
    top = __name__.partition(".")[0]
    namespace = {
        "run_simulation": run_simulation,
        "FaultPlan": trouper.testing.FaultPlan,
        top: importlib.import_module(top),
    }
    replayed = eval(report.replay, namespace)
    assert replayed.trace == report.failure.trace


async def test_simulate_stops_its_block_at_max_time() -> None:
    """Inside a test's own run, the block is cancelled and ``MaxTimeExceeded`` raised."""
    with pytest.raises(MaxTimeExceeded, match=r"^seed 5 has not finished at t=10\.0000 ") as raised:
        async with simulate(seed=5, max_time=10) as sim:
            await stuck(sim)
    assert raised.value.time == 10.0


async def stuck_durable(sim: DurableSimulation) -> None:
    await stuck(sim)


def test_a_durable_simulation_stops_at_max_time_across_a_crash() -> None:
    """Virtual time counts from the start, across incarnations; the replay line has the bound."""
    result = run_durable_simulation(stuck_durable, seed=2, crashes=(5.0,), max_time=20)
    assert result.crashes == (5.0,)
    assert over_time(result.error).time == 20.0
    report = explore_durable(stuck_durable, seeds=[4], crashes=(5.0,), max_time=20)
    assert report.replay == (
        f"run_durable_simulation({__name__}.stuck_durable, seed=4, crashes=(5.0,), "
        "faults=FaultPlan(), max_time=20)"
    )


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "60", True])
def test_max_time_must_be_a_positive_number_or_none(bad: object) -> None:
    """A bound that is not a finite number > 0 is refused before the run."""
    with pytest.raises(ValueError, match=r"^max_time must be a finite number > 0 or None, got "):
        run_simulation(stuck, seed=1, max_time=bad)  # type: ignore[arg-type]
