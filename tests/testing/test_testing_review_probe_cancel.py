"""Review: a tell to a probe is delivered or cancelled, never both (as a tell to an actor)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trouper.testing import Simulation, TestProbe, run_simulation


async def cancel_once_taken(sim: Simulation) -> tuple[bool, int]:
    """Tell a probe while another task, woken by the arrival, cancels the tell's scope.

    Returns whether the tell was cancelled, and how many messages the probe received.
    """
    probe = TestProbe(sim.runtime)
    scope = trio.CancelScope()

    async def take_then_cancel() -> None:
        await probe.expect("once")
        scope.cancel()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take_then_cancel)
        await trio.testing.wait_all_tasks_blocked()
        with scope:
            await probe.tell("once")
    return scope.cancelled_caught, len(probe.history)


@pytest.mark.parametrize("seed", range(8))
def test_a_tell_that_reached_the_probe_is_not_cancelled_after(seed: int) -> None:
    """Whichever task the seed runs first, a tell that arrived returns normally."""
    result = run_simulation(cancel_once_taken, seed=seed)
    assert (result.error, result.value) == (None, (False, 1))
