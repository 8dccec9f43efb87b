"""Review: ``explore_durable`` prints a replay line, as ``explore`` does, and it replays the run."""

from __future__ import annotations

import importlib
import random

import trio

import trouper.testing
from trouper.testing import DurableSimulation, DurableSimulationResult, explore_durable


async def draw(sim: DurableSimulation) -> float:
    """Wait a virtual second (a crash may come), then return a number drawn from the seed."""
    await trio.sleep(1)
    return sim.incarnation + sim.random.random()


def crash_before_one_second(rng: random.Random) -> tuple[float, ...]:
    """One crash, somewhere in the first virtual second (drawn per seed)."""
    return (rng.uniform(0.1, 0.9),)


def test_the_printed_replay_line_of_explore_durable_runs_the_same_run() -> None:
    """The report's ``replay:`` line, evaluated, gives the failing seed's value and trace."""

    def over_one_and_a_half(result: DurableSimulationResult[float]) -> bool:
        return result.value is not None and result.value > 1.5

    report = explore_durable(
        draw, seeds=range(20), crashes=crash_before_one_second, check=over_one_and_a_half
    )
    assert report.failure is not None
    [line] = [line for line in str(report).splitlines() if line.startswith("replay:")]
    replay = line.removeprefix("replay:").strip()
    assert replay == report.replay
    assert replay.startswith(
        f"run_durable_simulation({__name__}.draw, seed={report.failure.seed}, crashes=("
    )
    top = __name__.partition(".")[0]
    namespace = {
        "run_durable_simulation": trouper.testing.run_durable_simulation,
        "FaultPlan": trouper.testing.FaultPlan,
        top: importlib.import_module(top),
    }
    replayed = eval(replay, namespace)
    assert replayed.crashes == report.failure.crashes
    assert (replayed.value, replayed.trace) == (report.failure.value, report.failure.trace)
