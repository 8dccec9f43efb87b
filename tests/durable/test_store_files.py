"""Opening store files: identity, versions and migration, locks, corruption, durability modes."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from durable_support import make_store, serving

from trouper.durable import SqliteStore, WriteBatch
from trouper.errors import NotAStore, StoreCorrupt, StoreLocked, StoreVersionTooNew

TROUPER_ID = 0x54525052

# The layout of schema version 0 (development snapshots), built by hand.
VERSION_0 = """
CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, claimed_upto INTEGER);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, mailbox INTEGER NOT NULL, type_name TEXT NOT NULL,
    payload BLOB NOT NULL, msg_id TEXT, deliveries INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL, enqueued_at REAL NOT NULL,
    first_delivered_at REAL, last_delivered_at REAL
);
CREATE INDEX messages_by_mailbox ON messages (mailbox, id);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY, mailbox INTEGER NOT NULL, type_name TEXT NOT NULL,
    payload BLOB NOT NULL, msg_id TEXT, deliveries INTEGER NOT NULL, reason TEXT NOT NULL,
    traceback TEXT, enqueued_at REAL NOT NULL, first_delivered_at REAL,
    last_delivered_at REAL, dead_at REAL NOT NULL
);
CREATE TABLE dedup (
    mailbox INTEGER NOT NULL, msg_id TEXT NOT NULL, expires_at REAL,
    PRIMARY KEY (mailbox, msg_id)
) WITHOUT ROWID;
CREATE INDEX dedup_by_expiry ON dedup (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE states (key TEXT PRIMARY KEY, data BLOB NOT NULL, saved_at REAL NOT NULL)
    WITHOUT ROWID;
PRAGMA application_id = 1414680658;
"""


def pragmas(path: Path) -> tuple[int, int, str]:
    """(application_id, user_version, journal_mode) of a closed database file."""
    with sqlite3.connect(path) as connection:
        return (
            connection.execute("PRAGMA application_id").fetchone()[0],
            connection.execute("PRAGMA user_version").fetchone()[0],
            connection.execute("PRAGMA journal_mode").fetchone()[0],
        )


async def test_new_file_becomes_a_version_2_store_in_wal_mode(tmp_path: Path) -> None:
    """A new store carries trouper's application id, schema version 2 and WAL mode."""
    async with make_store(tmp_path / "shop.db"):
        pass
    assert pragmas(tmp_path / "shop.db") == (TROUPER_ID, 2, "wal")


async def test_text_file_is_not_a_store_and_is_left_untouched(tmp_path: Path) -> None:
    """A file without SQLite's header is refused, and not changed."""
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n")
    with pytest.raises(NotAStore, match=r"is not a trouper store: .*no SQLite header"):
        await make_store(path).open()
    assert path.read_text() == "shopping list\n"


async def test_sqlite_database_of_another_application_is_not_a_store(tmp_path: Path) -> None:
    """An SQLite database with tables and another application id is refused."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(NotAStore, match=r"another application \(application_id 0\)"):
        await make_store(path).open()


async def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    """A store written by a newer trouper is refused with both versions named."""
    path = tmp_path / "shop.db"
    async with make_store(path):
        pass
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 7")
    with pytest.raises(StoreVersionTooNew, match=r"schema version 7, newer than 2"):
        await make_store(path).open()


async def test_version_0_store_migrates_and_keeps_its_messages(tmp_path: Path) -> None:
    """A hand-built version 0 store opens as version 2, its messages delivered as before."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(VERSION_0)
        connection.execute("INSERT INTO mailboxes (id, name) VALUES (1, 'box')")
        connection.execute(
            "INSERT INTO messages (id, mailbox, type_name, payload, deliveries, available_at, "
            "enqueued_at) VALUES (5, 1, 'str', X'6f6c64', 2, 0, 0)"
        )
    async with make_store(path) as store, serving(store) as queue:
        await store.flush()
        delivery = queue.items[0]
    assert pragmas(path)[:2] == (TROUPER_ID, 2)
    assert (delivery.message, delivery.id, delivery.attempt) == ("old", 5, 3)  # type: ignore[attr-defined]


async def test_corrupt_store_is_refused(tmp_path: Path) -> None:
    """A store whose pages were overwritten fails SQLite's check and is refused as corrupt."""
    path = tmp_path / "shop.db"
    async with make_store(path) as store, serving(store) as queue:
        for n in range(200):
            queue.put_nowait(f"message {n}" * 20)
        await store.flush()
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page + 8 : 4 * page] = b"\xff" * (2 * page - 8)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match=r"^store '.*shop\.db' is corrupt: "):
        await make_store(path).open()


async def test_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    """While one store has the file open, another is refused with the lock file named."""
    path = tmp_path / "shop.db"
    async with make_store(path):
        with pytest.raises(StoreLocked, match=re.escape(f"lock held on '{path}-lock'")):
            await make_store(path).open()
    async with make_store(path):
        pass


@pytest.mark.real_clock
async def test_store_open_in_another_process_is_refused(tmp_path: Path) -> None:
    """A store held by another process is refused; it opens once that process is gone."""
    path = tmp_path / "shop.db"
    holder = (
        "import sys, trio\n"
        "from trouper.durable import SqliteStore\n"
        "async def main():\n"
        "    async with SqliteStore(sys.argv[1], synchronous='normal'):\n"
        "        print('open', flush=True)\n"
        "        sys.stdin.readline()\n"
        "trio.run(main)\n"
    )
    with trio.fail_after(20):
        process = await trio.lowlevel.open_process(
            [sys.executable, "-c", holder, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        assert process.stdin is not None
        said = b""
        while not said.endswith(b"\n"):
            said += await process.stdout.receive_some(100)
        assert said == b"open\n"
        with pytest.raises(StoreLocked):
            await make_store(path).open()
        await process.stdin.send_all(b"\n")
        await process.wait()
        async with make_store(path):
            pass


@pytest.mark.parametrize(("mode", "level"), [("full", 2), ("normal", 1)])
async def test_durability_mode_sets_synchronous(tmp_path: Path, mode: str, level: int) -> None:
    """``synchronous`` picks SQLite's level on the writing connection (FULL=2, NORMAL=1)."""
    store = SqliteStore(tmp_path / "shop.db", synchronous=mode)  # type: ignore[arg-type]
    async with store:
        settings = await store.sqlite_settings()
    assert (settings["journal_mode"], settings["synchronous"]) == ("wal", level)


def test_unknown_durability_mode_is_refused(tmp_path: Path) -> None:
    """Only 'full' and 'normal' are durability modes."""
    with pytest.raises(ValueError, match=r"^synchronous must be 'full' or 'normal', got 'off'$"):
        SqliteStore(tmp_path / "shop.db", synchronous="off")  # type: ignore[arg-type]


@pytest.mark.real_clock
async def test_store_locked_by_another_program_is_refused_as_locked(tmp_path: Path) -> None:
    """A file another program holds SQLite's exclusive lock on is refused as locked, not corrupt."""
    path = tmp_path / "shop.db"
    async with make_store(path):
        pass
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("PRAGMA locking_mode = EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        with trio.fail_after(20), pytest.raises(StoreLocked, match="locked by another program"):
            await make_store(path).open()
    finally:
        other.close()
    async with make_store(path):
        pass


async def acked_ids(store: SqliteStore, count: int) -> list[int]:
    """Append ``count`` messages to "box", then fetch and ack them all; return their ids."""
    batch = WriteBatch()
    for n in range(count):
        batch.append("box", "str", f"m{n}".encode())
    await store.submit(batch)
    window = await store.fetch("box", limit=count)
    acks = WriteBatch()
    for message in window:
        acks.ack(message.id)
    await store.submit(acks)
    return [message.id for message in window]


async def first_new_id(store: SqliteStore) -> int:
    batch = WriteBatch()
    record = batch.append("box", "str", b"new")
    await store.submit(batch)
    return record.id


async def test_delivery_ids_are_not_reused_after_a_clean_restart(tmp_path: Path) -> None:
    """Once every message was acked and the store closed, new messages still get new ids."""
    path = tmp_path / "shop.db"
    async with make_store(path) as store:
        old = await acked_ids(store, 3)
    async with make_store(path) as store:
        assert await first_new_id(store) > max(old)


async def test_delivery_ids_are_not_reused_after_a_crash(tmp_path: Path) -> None:
    """A crash right after the newest messages were acked does not let their ids come back."""
    path = tmp_path / "shop.db"
    store = make_store(path)
    await store.open()
    old = await acked_ids(store, 3)
    await store.simulate_crash()
    async with make_store(path) as store:
        assert await first_new_id(store) > max(old)


async def test_version_1_store_migrates_and_keeps_its_ids_rising(tmp_path: Path) -> None:
    """A version 1 store (no stored next id) opens as version 2, new ids above its messages."""
    path = tmp_path / "old.db"
    async with make_store(path) as store:
        batch = WriteBatch()
        kept = batch.append("box", "str", b"kept")
        await store.submit(batch)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE meta")
        connection.execute("PRAGMA user_version = 1")
    async with make_store(path) as store:
        assert await first_new_id(store) > kept.id
        (box,) = await store.mailbox_statistics()
    assert pragmas(path)[:2] == (TROUPER_ID, 2)
    assert box.depth == 2
