"""Review: a durable simulation never starts from a store an earlier run left at its path."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio

import trouper
from trouper.durable import Durable
from trouper.testing import DurableSimulation, run_durable_simulation


@attrs.define
class Count:
    """What a ``Counter`` was told so far (durable state)."""

    n: int = 0


class Counter(trouper.Actor):
    """Counts what it is told, in durable state; answers ``"count"``."""

    state: Count

    @trouper.handler
    async def add(self, message: int) -> None:
        self.state.n += message

    @trouper.handler
    async def count(self, message: str) -> int:
        return self.state.n


async def count_to_three(sim: DurableSimulation) -> int:
    counter = await sim.runtime.spawn(Counter, name="counter", mailbox=Durable())
    for _ in range(3):
        await counter.tell(1)
    await trio.sleep(1)
    result = await counter.ask("count")
    assert isinstance(result, int)
    return result


def test_a_path_given_is_a_new_store_and_the_run_is_what_it_was(tmp_path: Path) -> None:
    """The first run at a path counts to three from an empty store."""
    result = run_durable_simulation(count_to_three, seed=1, path=tmp_path / "store.db")
    assert (result.error, result.value) == (None, 3)


def test_a_path_that_holds_a_store_already_is_refused(tmp_path: Path) -> None:
    """A second run at the same path would start from the first one's store: not a replay."""
    path = tmp_path / "store.db"
    run_durable_simulation(count_to_three, seed=1, path=path)
    with pytest.raises(
        ValueError, match=r"^path '.*store\.db' exists: a durable simulation starts"
    ):
        run_durable_simulation(count_to_three, seed=1, path=path)
