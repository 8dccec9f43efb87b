"""A replay line with an infinite option or pause runs as it is printed (``math.inf``)."""

from __future__ import annotations

import math

from trouper.testing import FaultPlan, Pause, Simulation, SimulationResult, explore, run_simulation


async def answer(sim: Simulation) -> int:
    """Nothing is sent to the paused path; the run ends at once."""
    return 42


def never(result: SimulationResult[int]) -> bool:
    """Breaks every run, so that ``explore`` prints a replay line."""
    return False


def test_the_replay_line_of_infinite_values_evaluates_to_the_same_run() -> None:
    """``mailbox_size=math.inf`` and ``Pause(duration=math.inf)`` read back as ``math.inf``."""
    faults = FaultPlan(Pause("/nobody", at=1, duration=math.inf))
    report = explore(answer, seeds=[5], check=never, faults=faults, mailbox_size=math.inf)
    assert report.replay is not None
    assert report.failure is not None
    assert "duration=math.inf" in report.replay
    assert report.replay.endswith(", mailbox_size=math.inf)")
    system = f"{answer.__module__}.{answer.__qualname__}"
    namespace = {
        "run_simulation": run_simulation,
        "FaultPlan": FaultPlan,
        "Pause": Pause,
        "math": math,
        "system": answer,
    }
    replayed = eval(report.replay.replace(system, "system"), namespace)
    assert replayed.value == 42
    assert replayed.trace == report.failure.trace
    assert replayed.faults == faults
