"""Review: ``SqliteStore`` needs a file; SQLite's in-memory and temporary names are refused.

``":memory:"`` (and ``""``, a temporary database) give each connection a
database of its own: the writer's commits would never reach the reader, and
the lock file would be made as ``:memory:-lock`` in the working directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trouper.durable import SqliteStore


@pytest.mark.parametrize("name", [":memory:", ""])
def test_an_in_memory_or_temporary_database_name_is_refused(name: str) -> None:
    """``SqliteStore(":memory:")`` and ``SqliteStore("")`` raise ValueError saying why."""
    with pytest.raises(ValueError, match=r"^SqliteStore needs a database file, got .*: SQLite"):
        SqliteStore(name)


def test_a_file_named_like_memory_in_a_directory_is_a_file(tmp_path: Path) -> None:
    """Only the bare name is SQLite's: ``./:memory:`` is an ordinary file."""
    store = SqliteStore(f"{tmp_path}/:memory:")
    assert store.path.name == ":memory:"
