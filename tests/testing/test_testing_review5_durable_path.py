"""Review 5: a durable simulation's ``path`` that cannot be a new store is refused at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trouper.testing import DurableSimulation, run_durable_simulation


async def system(sim: DurableSimulation) -> int:
    """Nothing to do."""
    return sim.incarnation


def test_a_path_in_a_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    """It was a StoreError raised after the run, which reports errors in its result."""
    path = tmp_path / "missing" / "store.db"
    with pytest.raises(
        ValueError,
        match=rf"^path {re.escape(repr(str(path)))} is in no directory: "
        rf"{re.escape(repr(str(path.parent)))} does not exist$",
    ):
        run_durable_simulation(system, seed=1, path=path)
    assert not path.parent.exists()


@pytest.mark.parametrize("path", [123, b"store.db", ["store.db"]])
def test_a_path_that_is_not_a_path_is_refused(path: object) -> None:
    """A TypeError that names ``path`` (``Path(123)``'s own does not)."""
    message = rf"^path must be a str or os.PathLike, got {re.escape(repr(path))}$"
    with pytest.raises(TypeError, match=message):
        run_durable_simulation(system, seed=1, path=path)  # type: ignore[arg-type]


def test_a_path_in_a_directory_that_exists_is_a_new_store(tmp_path: Path) -> None:
    """The check refuses only what cannot work."""
    result = run_durable_simulation(system, seed=1, path=tmp_path / "store.db")
    assert (result.error, result.value) == (None, 0)
    assert (tmp_path / "store.db").exists()
