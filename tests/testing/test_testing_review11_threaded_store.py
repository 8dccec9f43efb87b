"""Review: a simulation refuses a store that runs SQLite in threads, before any run.

While every task waited for the store's thread, no task could run and no
timer was pending: the run ended in a ``Deadlock`` naming nothing of the
store, as soon as the system waited for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trouper.durable import SqliteStore
from trouper.testing import Simulation, run_simulation, simulate


async def nothing(sim: Simulation) -> None:
    pass


def test_run_simulation_refuses_a_threaded_store(tmp_path: Path) -> None:
    """run_simulation raises ValueError before the run, saying to pass threads=False."""
    with pytest.raises(ValueError, match=r"SqliteStore\(path, threads=False\)"):
        run_simulation(nothing, seed=1, store=SqliteStore(tmp_path / "s.db"))


async def test_simulate_refuses_a_threaded_store(tmp_path: Path) -> None:
    """simulate raises ValueError before its block runs."""
    with pytest.raises(ValueError, match=r"threads=True"):
        async with simulate(seed=1, store=SqliteStore(tmp_path / "s.db")):
            pass  # pragma: no cover


def test_a_store_on_trios_thread_runs(tmp_path: Path) -> None:
    """A SqliteStore with threads=False is accepted, and the run ends without error."""
    store = SqliteStore(tmp_path / "s.db", threads=False)
    assert not store.threads
    result = run_simulation(nothing, seed=1, store=store)
    assert result.error is None
