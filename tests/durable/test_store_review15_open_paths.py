"""Review: a store path whose directory is not there is refused saying so.

``SqliteStore`` takes its lock on ``<file>-lock`` first, so a path in a
directory that does not exist (a typo, a volume not mounted) was refused
with the lock file's error, ``No such file or directory: '.../s.db-lock'``:
about a file the user never named, which the store makes itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from durable_support import sqlite

import trouper
from trouper.errors import StoreError


async def test_a_store_in_a_missing_directory_is_refused_naming_the_directory(
    tmp_path: Path,
) -> None:
    """``open_runtime`` raises ``StoreError`` naming the directory, not the lock file."""
    missing = tmp_path / "no-such-dir"
    where = re.escape(repr(str(missing)))
    with pytest.raises(StoreError, match=rf"^store '.*s\.db': no such directory: {where}$"):
        async with trouper.open_runtime(store=sqlite(missing / "s.db")):
            pass  # pragma: no cover


async def test_a_store_under_a_file_is_refused_naming_the_directory(tmp_path: Path) -> None:
    """A path through a regular file (``a.db/s.db``) is refused the same way."""
    blocker = tmp_path / "a.db"
    blocker.write_bytes(b"")
    where = re.escape(repr(str(blocker)))
    with pytest.raises(StoreError, match=rf"^store '.*s\.db': no such directory: {where}$"):
        async with trouper.open_runtime(store=sqlite(blocker / "s.db")):
            pass  # pragma: no cover
    assert blocker.read_bytes() == b""
