"""Reads of a SqliteStore, reviewed: a read SQLite refuses raises a store error, never sqlite3's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from durable_support import make_store

from trouper.durable import SqliteStore, WriteBatch
from trouper.errors import StoreCorrupt


async def _damaged_after_open(path: Path, table: str) -> SqliteStore:
    """An open store whose ``table``, not yet read by its reader, has its root page zeroed."""
    async with make_store(path) as store:
        batch = WriteBatch()
        batch.save_state("cart", b"state")
        await store.submit(batch)
    with sqlite3.connect(path) as connection:
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
        (size,) = connection.execute("PRAGMA page_size").fetchone()
    connection.close()
    store = make_store(path)
    await store.open()
    with path.open("r+b") as file:
        file.seek((root - 1) * size)
        file.write(bytes(size))
    return store


async def test_a_state_read_from_a_damaged_page_raises_store_corrupt(tmp_path: Path) -> None:
    """``load_state`` over a damaged page raises StoreCorrupt naming the file, not sqlite3's."""
    path = tmp_path / "shop.db"
    store = await _damaged_after_open(path, "states")
    try:
        with pytest.raises(StoreCorrupt, match=r"shop\.db.*is corrupt: database disk image"):
            await store.load_state("cart")
    finally:
        await store.aclose()


async def test_dead_letters_read_from_a_damaged_page_raise_store_corrupt(tmp_path: Path) -> None:
    """Listing dead letters over a damaged page raises StoreCorrupt, not sqlite3's error."""
    path = tmp_path / "shop.db"
    store = await _damaged_after_open(path, "dead_letters")
    try:
        with pytest.raises(StoreCorrupt, match=r"shop\.db.*is corrupt"):
            [dead async for dead in store.dead_letters()]
    finally:
        await store.aclose()
