"""Review: the replay line ``explore`` prints runs the same run, runtime options included."""

from __future__ import annotations

import trouper
from trouper.testing import Simulation, SimulationResult, explore, run_simulation


class Sink(trouper.Actor):
    """Takes any int."""

    @trouper.handler
    async def take(self, message: int) -> None:
        pass


async def fill(sim: Simulation) -> int:
    """Tell a sink three ints at once; return how many its mailbox refused."""
    sink = await sim.runtime.spawn(Sink, name="sink")
    refused = 0
    for n in range(3):
        try:
            sink.tell_nowait(n)
        except trouper.MailboxFull:
            refused += 1
    return refused


def test_the_replay_line_carries_the_runtime_options_of_the_exploration() -> None:
    """A run that broke only under ``mailbox_size=1`` replays with ``mailbox_size=1``."""

    def nothing_refused(result: SimulationResult[int]) -> bool:
        return result.value == 0

    report = explore(fill, seeds=range(3), check=nothing_refused, mailbox_size=1)
    assert report.failure is not None
    assert report.replay == (
        f"run_simulation({__name__}.fill, seed=0, faults=FaultPlan(), mailbox_size=1)"
    )
    replayed = run_simulation(fill, seed=0, mailbox_size=1)
    assert (replayed.value, replayed.trace) == (report.failure.value, report.failure.trace)
