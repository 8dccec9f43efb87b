"""Review 26: one store file is one store, whatever its name; a refused open leaves no file behind.

The lock was ``<real path>-lock``: a hard link of a store (another name, the
same file) took a lock file of its own, so a second store opened it beside
the first and failed later with ``disk I/O error`` (SQLite's ``-wal`` and
``-shm`` go by name, so the two wrote two logs of one database). And a file
refused as no store kept the ``<file>-lock`` the open had made beside it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import trio
from durable_support import make_store, sqlite

import trouper
from trouper.errors import NotAStore, StoreCorrupt, StoreLocked, StoreVersionTooNew


async def _new_store(path: Path) -> None:
    async with make_store(path):
        pass


async def test_a_hard_link_of_an_open_store_is_refused_as_its_own_path_is(tmp_path: Path) -> None:
    """Another name of the same file gets the error its own name gets: the holder's lock named."""
    path = tmp_path / "shop.db"
    link = tmp_path / "other" / "alias.db"
    link.parent.mkdir()
    await _new_store(path)
    os.link(path, link)
    async with make_store(path) as store:
        said = re.escape(
            f"store '{link}' is in use by another runtime (lock held on '{path}-lock')"
        )
        with pytest.raises(StoreLocked, match=f"^{said}$"):
            await make_store(link).open()
        # The holder is unharmed: it still commits and reads.
        await store.flush()
        assert [m.name for m in await store.mailbox_statistics()] == []
    async with make_store(link):
        pass


async def test_a_runtime_on_a_hard_link_of_an_open_store_is_refused(tmp_path: Path) -> None:
    """``open_runtime`` on a hard link of a store another runtime has open raises StoreLocked."""
    path = tmp_path / "shop.db"
    link = tmp_path / "alias.db"
    await _new_store(path)
    os.link(path, link)
    async with trouper.open_runtime(store=sqlite(path)):
        with pytest.raises(StoreLocked):
            async with trouper.open_runtime(store=sqlite(link)):
                pass  # pragma: no cover


@pytest.mark.real_clock
async def test_a_hard_link_of_a_store_open_in_another_process_is_refused(tmp_path: Path) -> None:
    """Another process holding the store by one name refuses this one by another name."""
    path = tmp_path / "shop.db"
    link = tmp_path / "alias.db"
    await _new_store(path)
    os.link(path, link)
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
        refused = (
            r"^store '.*alias\.db' is in use by another runtime \(lock held on 'the store file "
            r"itself, open under another name \(a hard link\)'\)$"
        )
        with pytest.raises(StoreLocked, match=refused):
            await make_store(link).open()
        await process.stdin.send_all(b"\n")
        await process.wait()
    async with make_store(link):
        pass


def _foreign(path: Path, *, wal: bool) -> None:
    with closing(sqlite3.connect(path)) as connection:
        if wal:
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE notes (text TEXT)")
        connection.execute("INSERT INTO notes VALUES ('hello')")
        connection.commit()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
async def test_an_sqlite_database_of_another_application_leaves_no_file_behind(
    tmp_path: Path, wal: bool
) -> None:
    """Refused as no store, another application's database leaves the directory as it was."""
    path = tmp_path / "notes.db"
    _foreign(path, wal=wal)
    before = sorted(os.listdir(tmp_path))
    content = path.read_bytes()
    with pytest.raises(NotAStore):
        async with trouper.open_runtime(store=sqlite(path)):
            pass  # pragma: no cover
    assert sorted(os.listdir(tmp_path)) == before == ["notes.db"]
    assert path.read_bytes() == content


async def test_a_file_that_is_not_sqlite_leaves_no_file_behind(tmp_path: Path) -> None:
    """A text file refused as no store leaves no lock file beside it."""
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(NotAStore):
        await make_store(path).open()
    assert os.listdir(tmp_path) == ["notes.txt"]


async def test_a_store_of_a_newer_version_leaves_no_file_behind(tmp_path: Path) -> None:
    """A store refused as too new leaves no lock file beside it, nor SQLite's ``-wal``/``-shm``."""
    path = tmp_path / "shop.db"
    await _new_store(path)
    os.remove(f"{path}-lock")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 99")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(StoreVersionTooNew):
        await make_store(path).open()
    assert sorted(os.listdir(tmp_path)) == before == ["shop.db"]


async def test_a_corrupt_store_leaves_no_file_behind(tmp_path: Path) -> None:
    """A store refused as corrupt leaves no lock file beside it."""
    path = tmp_path / "shop.db"
    async with make_store(path) as store:
        await store.flush()
    os.remove(f"{path}-lock")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("CREATE TABLE filler (x BLOB)")
        connection.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 3000,)] * 20)
        connection.commit()
    data = bytearray(path.read_bytes())
    data[2 * 4096 + 8 : 5 * 4096] = b"\xff" * (3 * 4096 - 8)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt):
        await make_store(path).open()
    assert os.listdir(tmp_path) == ["shop.db"]


async def test_a_lock_file_that_was_there_before_a_refused_open_is_kept(tmp_path: Path) -> None:
    """A failed open removes only what it made: a lock file already there stays."""
    path = tmp_path / "notes.db"
    _foreign(path, wal=False)
    lock = tmp_path / "notes.db-lock"
    lock.write_bytes(b"")
    with pytest.raises(NotAStore):
        await make_store(path).open()
    assert sorted(os.listdir(tmp_path)) == ["notes.db", "notes.db-lock"]


async def test_a_second_open_refused_by_the_lock_leaves_the_holders_lock_file(
    tmp_path: Path,
) -> None:
    """A store refused because another holds the file leaves the lock file the holder uses."""
    path = tmp_path / "shop.db"
    async with make_store(path):
        with pytest.raises(StoreLocked):
            await make_store(path).open()
        assert (tmp_path / "shop.db-lock").exists()
    async with make_store(path):
        pass


async def test_a_database_its_application_has_open_is_refused_and_its_log_kept(
    tmp_path: Path,
) -> None:
    """Refused while another program has it open, its ``-wal`` and ``-shm`` stay, its data too."""
    path = tmp_path / "notes.db"
    _foreign(path, wal=True)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("INSERT INTO notes VALUES ('open')")
        connection.commit()
        before = sorted(os.listdir(tmp_path))
        assert before == ["notes.db", "notes.db-shm", "notes.db-wal"]
        with pytest.raises(NotAStore):
            await make_store(path).open()
        assert sorted(os.listdir(tmp_path)) == before
        assert connection.execute("SELECT count(*) FROM notes").fetchone()[0] == 2


def _crashed_foreign(path: Path) -> None:
    """Another application's WAL database as its crash left it: its log holds committed pages."""
    source = path.with_name("source.db")
    connection = sqlite3.connect(source)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        connection.execute("CREATE TABLE notes (text TEXT)")
        connection.execute("INSERT INTO notes VALUES ('in the log')")
        connection.commit()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").write_bytes(Path(f"{source}{suffix}").read_bytes())
    finally:
        connection.close()
    source.unlink()


def _contents(path: Path) -> tuple[bytes, bytes]:
    """The database file's bytes and its log's."""
    return path.read_bytes(), Path(f"{path}-wal").read_bytes()


async def test_a_database_another_application_left_with_its_log_is_refused_untouched(
    tmp_path: Path,
) -> None:
    """Refused, it keeps its ``-wal``: the store's probe neither checkpoints nor deletes it."""
    path = tmp_path / "notes.db"
    _crashed_foreign(path)
    before = sorted(os.listdir(tmp_path))
    assert before == ["notes.db", "notes.db-shm", "notes.db-wal"]
    data, log = _contents(path)
    with pytest.raises(NotAStore, match=r"another application \(application_id 0\)$"):
        await make_store(path).open()
    assert sorted(os.listdir(tmp_path)) == before
    assert _contents(path) == (data, log)
