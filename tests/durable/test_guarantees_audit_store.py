"""Promises of docs/durable.md about the store file that no other test pinned (SQLite)."""

from __future__ import annotations

from pathlib import Path

from durable_support import make_store

from trouper.durable import WriteBatch


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
