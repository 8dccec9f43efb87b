"""A store refused when opened is left as it was: no migration is written into a damaged file."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
import trio
from durable_support import make_store, serving

from trouper.errors import StoreCorrupt


async def test_corrupt_old_store_is_refused_before_it_is_migrated(tmp_path: Path) -> None:
    """A version 1 store whose pages were overwritten is refused as corrupt and stays version 1."""
    path = tmp_path / "old.db"
    async with make_store(path) as store, serving(store) as queue:
        for n in range(200):
            queue.put_nowait(f"message {n}" * 20)
        await store.flush()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE meta")
        connection.execute("PRAGMA user_version = 1")
    connection.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page + 8 : 4 * page] = b"\xff" * (2 * page - 8)
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt, match=r"^store '.*old\.db' is corrupt: "):
        await make_store(path).open()
    with sqlite3.connect(path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
    connection.close()
    assert (version, "meta" in tables) == (1, False)
    assert path.read_bytes() == before


# Opens the store at argv[1] with files capped at a few kilobytes (writes beyond
# fail as on a full disk) and prints what open raised.
_OPEN_ON_A_FULL_DISK = """
import resource, signal, sys, trio
from trouper.durable import SqliteStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
async def main():
    try:
        await SqliteStore(sys.argv[1]).open()
    except Exception as error:
        print(type(error).__name__, error)
trio.run(main)
"""


@pytest.mark.real_clock
async def test_migration_that_cannot_write_is_an_io_error_not_corruption(tmp_path: Path) -> None:
    """A migration failing on a full disk raises StoreError saying so, and the store stays sound."""
    path = tmp_path / "old.db"
    async with make_store(path) as store, serving(store) as queue:
        queue.put_nowait("kept")
        await store.flush()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE meta")
        connection.execute("PRAGMA user_version = 1")
    connection.close()
    with trio.fail_after(20):
        done = await trio.run_process(
            [sys.executable, "-c", _OPEN_ON_A_FULL_DISK, str(path)], capture_stdout=True
        )
    said = done.stdout.decode()
    assert said.startswith("StoreError store "), said
    assert "disk I/O error" in said
    async with make_store(path) as store:
        (box,) = await store.mailbox_statistics()
    assert box.depth == 1
