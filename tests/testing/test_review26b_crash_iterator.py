"""``explore_durable`` gives every seed the crash instants it was given, even from an iterator."""

from __future__ import annotations

import trio

from trouper.testing import DurableSimulation, DurableSimulationResult, explore_durable


async def wait_a_second(sim: DurableSimulation) -> int:
    """Each incarnation waits a second; the value is the last one's number."""
    await trio.sleep(1)
    return sim.incarnation


def crashed_once(result: DurableSimulationResult[int]) -> None:
    """Every seed's run was killed at 0.5 s and ended in its second incarnation."""
    assert result.crashes == (0.5,), f"seed {result.seed} crashed at {result.crashes}"
    assert result.value == 1


def test_every_seed_gets_the_instants_of_a_one_shot_iterable() -> None:
    """A generator of instants is read once, not used up by the first seed."""
    report = explore_durable(
        wait_a_second, seeds=range(3), crashes=(at for at in [0.5]), check=crashed_once
    )
    assert not report.failed, str(report)
    assert report.runs == 3
