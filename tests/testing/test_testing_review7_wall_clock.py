"""run_simulation with a store, reviewed: one seed records one set of times."""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

import trouper
from trouper.durable import DeadLetterRecord, Durable, SqliteStore
from trouper.testing import Simulation, run_simulation

EPOCH = 1_767_225_600.0
"""2026-01-01T00:00:00Z, where a simulation's wall clock starts."""


@trouper.message("test.review7.crate")
@attrs.frozen
class Crate:
    number: int


class Dock(trouper.Actor):
    """Fails every odd crate (dead-lettered after two deliveries), takes the even ones."""

    @trouper.handler
    async def crate(self, message: Crate) -> None:
        await trio.sleep(0.25)
        if message.number % 2:
            raise ValueError(f"crate {message.number} is damaged")


async def _system(sim: Simulation) -> list[DeadLetterRecord]:
    rt = sim.runtime
    dock = await rt.spawn(Dock, name="dock", mailbox=Durable(max_deliveries=2, backoff=(1.5,)))
    for number in range(2):
        await dock.tell(Crate(number))
    await trio.sleep(30)
    return [letter async for letter in rt.store.dead_letters()]


def test_two_runs_of_one_seed_with_a_store_record_equal_dead_letter_times(
    tmp_path: Path,
) -> None:
    """Run twice with one seed and a SqliteStore: the dead letters read back are equal."""
    first = run_simulation(_system, seed=3, store=SqliteStore(tmp_path / "a.db", threads=False))
    second = run_simulation(_system, seed=3, store=SqliteStore(tmp_path / "b.db", threads=False))
    assert first.ok, first.error
    assert second.ok, second.error
    assert first.value is not None
    assert [letter.message for letter in first.value] == [Crate(1)]
    assert first.value == second.value


def test_run_simulation_records_times_from_the_simulation_epoch(tmp_path: Path) -> None:
    """A dead letter's times are 2026-01-01T00:00:00Z plus the virtual seconds of the run."""
    result = run_simulation(_system, seed=3, store=SqliteStore(tmp_path / "a.db", threads=False))
    assert result.ok, result.error
    assert result.value is not None
    # Crate 1: told and prefetched at 0, fails at 0.5 (after crate 0), is delivered again
    # 1.5 s later and fails at 2.25.
    letter = result.value[0]
    assert letter.message == Crate(1)
    times = (letter.enqueued_at, letter.first_delivered_at, letter.last_delivered_at)
    assert (*times, letter.dead_at) == (EPOCH, EPOCH, EPOCH + 2.0, EPOCH + 2.25)
