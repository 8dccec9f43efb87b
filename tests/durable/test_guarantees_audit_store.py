"""Promises of docs/durable.md about the store file that no other test pinned (SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio
from durable_support import Taker, make_store, serving

from trouper.durable import Durable, WriteBatch
from trouper.errors import StoreVersionTooNew

OPTIONS = Durable(max_deliveries=3, backoff=(1.0,))


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


async def test_a_suspect_running_at_a_clean_stop_is_given_back_uncharged(tmp_path: Path) -> None:
    """Poison messages: a clean stop gives back the suspect it was running without charging it."""
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    async with serving(store, options=OPTIONS) as queue:
        assert await queue.put("a")
        await Taker().take(queue)
        await store.simulate_crash()
    attempts = []
    for _ in range(2):  # taken as a suspect, then the stop is clean while it runs
        async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
            attempts.append((await Taker().take(queue)).attempt)
    async with make_store(path) as store, serving(store, options=OPTIONS) as queue:
        with trio.move_on_after(60):  # virtual time: a message charged to death never comes
            attempts.append((await Taker().handle(queue)).attempt)
    assert attempts == [2, 2, 2]
