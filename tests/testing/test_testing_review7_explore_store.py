"""explore with a store, reviewed: refused before any run, since a store opens only once."""

from __future__ import annotations

from pathlib import Path

import pytest

from trouper.durable import SqliteStore
from trouper.testing import Simulation, explore


async def _idle(sim: Simulation) -> None:
    """Do nothing: the refusal comes before any run."""


def test_explore_refuses_a_store_before_any_run(tmp_path: Path) -> None:
    """A store in explore's options is refused at the call, naming explore_durable."""
    store = SqliteStore(tmp_path / "store.db", threads=False)
    with pytest.raises(
        ValueError,
        match=r"^explore runs each seed on a runtime of its own and a store opens only once: "
        r"use explore_durable, which opens a store per seed, got store=<SqliteStore .*>$",
    ):
        explore(_idle, seeds=range(2), store=store)
    assert not (tmp_path / "store.db").exists()
