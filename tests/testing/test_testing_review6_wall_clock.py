"""Durable simulations, reviewed: one seed gives one result, dead-letter times included."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper.durable import Durable
from trouper.testing import DurableSimulation, run_durable_simulation


@trouper.message("test.review6.parcel")
@attrs.frozen
class Parcel:
    number: int


class Depot(trouper.Actor):
    """Fails every odd parcel (dead-lettered after two deliveries), takes the even ones."""

    @trouper.handler
    async def parcel(self, message: Parcel) -> None:
        await trio.sleep(0.25)
        if message.number % 2:
            raise ValueError(f"parcel {message.number} is damaged")


async def _system(sim: DurableSimulation) -> None:
    rt = sim.runtime
    depot = await rt.spawn(Depot, name="depot", mailbox=Durable(max_deliveries=2, backoff=(1.5,)))
    if sim.incarnation == 0:
        for number in range(6):
            await depot.tell(Parcel(number))
    await trio.sleep(30)


def test_two_runs_of_one_seed_give_equal_results_with_their_dead_letter_times() -> None:
    """Run twice with one seed and a crash: the results, dead letters' times too, are equal."""
    first = run_durable_simulation(_system, seed=7, crashes=(0.6,))
    second = run_durable_simulation(_system, seed=7, crashes=(0.6,))
    assert first.ok, first.error
    assert [letter.message for letter in first.dead_letters] == [Parcel(1), Parcel(3), Parcel(5)]
    assert first.dead_letters == second.dead_letters
    assert first == second


def test_the_store_records_times_from_the_simulation_epoch() -> None:
    """A dead letter's times are 2026-01-01T00:00:00Z plus the virtual seconds of the run."""
    result = run_durable_simulation(_system, seed=7)
    assert result.ok, result.error
    epoch = 1_767_225_600.0
    # Parcel 1: told and prefetched at 0, fails at 0.5 (after parcel 0), is delivered again
    # 1.5 s later and fails at 2.25.
    letter = result.dead_letters[0]
    assert letter.message == Parcel(1)
    times = (letter.enqueued_at, letter.first_delivered_at, letter.last_delivered_at)
    assert (*times, letter.dead_at) == (epoch, epoch, epoch + 2.0, epoch + 2.25)
