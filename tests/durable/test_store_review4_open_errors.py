"""Opening a store fails with a store error, never a bare ``sqlite3`` one, once the file is checked.

The first write of an open (reserving a block of delivery ids) comes after
the file's identity and version are checked; a failure there is a problem
with the file like any other, and is reported as one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio
from durable_support import make_store

from trouper.errors import StoreError, StoreLocked


@pytest.mark.real_clock
async def test_store_whose_write_lock_another_program_holds_is_refused_as_locked(
    tmp_path: Path,
) -> None:
    """A program holding SQLite's write lock (reads still allowed) makes open raise StoreLocked."""
    path = tmp_path / "shop.db"
    async with make_store(path):
        pass
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with trio.fail_after(20), pytest.raises(StoreLocked, match="locked by another program"):
            await make_store(path).open()
    finally:
        other.close()
    async with make_store(path):
        pass


async def test_store_missing_a_table_is_refused_with_a_store_error(tmp_path: Path) -> None:
    """A store whose id table was dropped raises StoreError naming the file and what is missing."""
    path = tmp_path / "shop.db"
    async with make_store(path):
        pass
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE meta")
    other.close()
    with pytest.raises(StoreError, match=r"shop\.db.*no such table: meta"):
        await make_store(path).open()
