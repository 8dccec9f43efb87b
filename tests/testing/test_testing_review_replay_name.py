"""Review: the replay line of a system given as a ``functools.partial`` is one that runs."""

from __future__ import annotations

import functools

from trouper.testing import FaultPlan, Simulation, explore, run_simulation


async def numbered(base: int, sim: Simulation, *, step: int = 1) -> int:
    return base + step * sim.random.randrange(10)


def test_the_replay_line_of_a_partial_names_its_function_and_arguments() -> None:
    """No ``<function ... at 0x...>`` in the line: evaluated, it runs the same run."""
    system = functools.partial(numbered, 100, step=2)
    report = explore(system, seeds=[4], check=lambda result: False)
    assert report.replay == (
        f"run_simulation(functools.partial({__name__}.numbered, 100, step=2), seed=4, "
        "faults=FaultPlan())"
    )
    assert report.failure is not None
    replayed = eval(  # the line as printed, with what it names in scope
        report.replay.replace(f"{__name__}.", ""),
        {
            "functools": functools,
            "numbered": numbered,
            "run_simulation": run_simulation,
            "FaultPlan": FaultPlan,
        },
    )
    assert replayed.ok
    assert replayed.trace == report.failure.trace
    assert replayed.value == report.failure.value
    assert isinstance(replayed.value, int)
    assert replayed.value >= 100
