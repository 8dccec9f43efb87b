"""Promises of docs/durable.md about the store file that no other test pinned (SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from durable_support import make_store

from trouper.durable import WriteBatch
from trouper.errors import StoreVersionTooNew


async def test_delivery_ids_past_one_reserved_block_are_not_reused_after_a_crash(
    tmp_path: Path,
) -> None:
    """The store file: past the 65,536 ids reserved at open, a crash still lets no id come back."""
    path = tmp_path / "shop.db"
    store = make_store(path)
    await store.open()
    batch = WriteBatch()
    records = [batch.append("box", "str", b"m") for _ in range(70_000)]
    await store.submit(batch)
    acks = WriteBatch()
    for record in records:
        acks.ack(record.id)
    await store.submit(acks)
    await store.simulate_crash()
    async with make_store(path) as store:
        batch = WriteBatch()
        new = batch.append("box", "str", b"new")
        await store.submit(batch)
    assert new.id > records[-1].id


async def test_the_next_schema_version_is_already_refused(tmp_path: Path) -> None:
    """The store file: version 3, one past this trouper's 2, is refused and left as it was."""
    path = tmp_path / "shop.db"
    async with make_store(path):
        pass
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 3")
    connection.close()
    with pytest.raises(StoreVersionTooNew, match=r"schema version 3, newer than 2"):
        await make_store(path).open()
    with sqlite3.connect(path) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    assert version == 3
