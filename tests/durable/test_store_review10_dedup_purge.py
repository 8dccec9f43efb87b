"""Purging expired dedup ids costs a commit no more with many ids kept than with few."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import trio
from durable_support import make_store

from trouper.durable import WriteBatch, set_wall_clock

EPOCH = 1_000_000.0


def one_append(text: str) -> WriteBatch:
    batch = WriteBatch()
    batch.append("box", "str", text.encode())
    return batch


async def test_a_commit_that_purges_does_not_scan_every_kept_id(tmp_path: Path) -> None:
    """30 commits that each purge an expired id, beside 400,000 live ids, take well under 0.3 s.

    Each such commit then looks for the next expiry; read without the expiry
    index it scans every id kept (about 40 ms here for 400,000), so a store
    deduplicating a busy mailbox paid that on every commit once ids expired.
    """
    set_wall_clock(EPOCH)
    path = tmp_path / "s.db"
    async with make_store(path) as store:
        await store.submit(one_append("first"))
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO dedup (mailbox, msg_id, expires_at) VALUES (1, ?, ?)",
            ((f"live-{n:07d}", EPOCH + 10_000 + n / 1000) for n in range(400_000)),
        )
        connection.executemany(
            "INSERT INTO dedup (mailbox, msg_id, expires_at) VALUES (1, ?, ?)",
            ((f"soon-{n}", EPOCH + 1 + n) for n in range(30)),
        )
    connection.close()
    spent = 0.0
    async with make_store(path) as store:
        for n in range(30):
            await trio.sleep(1.5)  # one more id has expired: this commit purges it
            started = time.perf_counter()
            await store.submit(one_append(f"m{n}"))
            spent += time.perf_counter() - started
    with sqlite3.connect(path) as connection:
        left = connection.execute("SELECT count(*) FROM dedup").fetchone()[0]
    connection.close()
    assert left == 400_000
    assert spent < 0.3, f"30 purging commits took {spent:.3f} s"
