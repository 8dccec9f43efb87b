"""The command line names each opening failure as the store does: locked, not a store, I/O, corrupt.

Only SQLite's own verdict on the file's content (malformed, not a database)
makes a store corrupt; a file SQLite cannot open beside it, or one missing a
table, is a problem ``StoreError`` names, as opening it in a runtime says.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from durable_support import make_store
from test_dead_letter_queue import bury

from trouper.durable.__main__ import main as cli
from trouper.errors import StoreCorrupt, StoreError


async def _store(path: Path) -> None:
    async with make_store(path) as store:
        await bury(store, "orders", "o-1")


def _unopenable_wal(path: Path) -> None:
    """Make the store's write-ahead log a directory: SQLite cannot open it (not corrupt)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    Path(f"{path}-wal").mkdir()


@pytest.mark.parametrize("command", [["inspect"], ["redrive", "orders", "--all"]])
async def test_a_store_sqlite_cannot_open_is_not_called_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A write-ahead log SQLite cannot open is SQLite's reason, with status 1, not 'corrupt'."""
    path = tmp_path / "shop.db"
    await _store(path)
    _unopenable_wal(path)
    assert cli([command[0], str(path), *command[1:]]) == 1
    assert capsys.readouterr().err == f"error: store '{path}': unable to open database file\n"


async def test_the_command_line_and_the_store_name_an_unopenable_file_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opening the file in a runtime raises a StoreError, not StoreCorrupt, as the CLI says."""
    path = tmp_path / "shop.db"
    await _store(path)
    _unopenable_wal(path)
    with pytest.raises(StoreError) as raised:
        await make_store(path).open()
    assert not isinstance(raised.value, StoreCorrupt)
    assert cli(["inspect", str(path)]) == 1
    assert capsys.readouterr().err == f"error: {raised.value}\n"


async def test_a_store_missing_a_table_is_named_as_such_not_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store whose dead-letter table was dropped: SQLite's reason, as opening it says."""
    path = tmp_path / "shop.db"
    await _store(path)
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE dead_letters")
    other.close()
    assert cli(["inspect", str(path)]) == 1
    assert capsys.readouterr().err == f"error: store '{path}': no such table: dead_letters\n"


async def test_a_malformed_store_is_still_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store whose pages were overwritten with zeros is reported corrupt, with status 1."""
    path = tmp_path / "shop.db"
    await _store(path)
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes(len(data) - 100))
    assert cli(["inspect", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"error: store '{path}' is corrupt: database disk image is malformed\n"
    )


async def test_a_sqlite_database_of_another_application_is_not_a_trouper_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another application's SQLite database: 'not a trouper store', status 1."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE t (x)")
    other.close()
    assert cli(["inspect", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"error: '{path}' is not a trouper store: it is an SQLite database of another "
        "application (application_id 0)\n"
    )
