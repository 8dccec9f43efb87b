"""Purging expired dedup ids takes exactly the expired ones, through the expiry index.

What a purging commit costs with many ids kept is measured by
``python -m bench.durable_bench`` (the "dedup purge" line), not here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio
from durable_support import make_store

from trouper.durable import WriteBatch, set_wall_clock

EPOCH = 1_000_000.0


def one_append(text: str) -> WriteBatch:
    batch = WriteBatch()
    batch.append("box", "str", text.encode())
    return batch


async def test_commits_purge_each_expired_id_and_keep_every_live_one(tmp_path: Path) -> None:
    """30 commits, each after one more id expired, beside 4,000 live ids: 30 go, the rest stay."""
    set_wall_clock(EPOCH)
    path = tmp_path / "s.db"
    async with make_store(path) as store:
        await store.submit(one_append("first"))
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO dedup (mailbox, msg_id, expires_at) VALUES (1, ?, ?)",
            ((f"live-{n:07d}", EPOCH + 10_000 + n / 1000) for n in range(4_000)),
        )
        connection.executemany(
            "INSERT INTO dedup (mailbox, msg_id, expires_at) VALUES (1, ?, ?)",
            ((f"soon-{n}", EPOCH + 1 + n) for n in range(30)),
        )
    connection.close()
    async with make_store(path) as store:
        for n in range(30):
            await trio.sleep(1.5)  # one more id has expired: this commit purges it
            await store.submit(one_append(f"m{n}"))
    with sqlite3.connect(path) as connection:
        left = connection.execute("SELECT count(*) FROM dedup").fetchone()[0]
    connection.close()
    assert left == 4_000
