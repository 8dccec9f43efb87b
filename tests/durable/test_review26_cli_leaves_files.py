"""Review 26: the command line refuses a file that is no store without leaving files beside it.

``inspect`` read the file through a read-only SQLite connection, which makes
the ``-wal`` and ``-shm`` files of a database in WAL mode and cannot remove
them again: another application's database was refused as no store, and
two files of SQLite's were left beside it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from trouper.durable.__main__ import main as cli


def _foreign(path: Path, *, wal: bool, user_version: int = 0, application_id: int = 0) -> None:
    with closing(sqlite3.connect(path)) as connection:
        if wal:
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE notes (text TEXT)")
        connection.execute(f"PRAGMA user_version = {user_version}")
        connection.execute(f"PRAGMA application_id = {application_id}")
        connection.commit()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("command", [["inspect"], ["redrive", "orders", "--all"]])
def test_a_database_of_another_application_is_refused_leaving_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wal: bool, command: list[str]
) -> None:
    """Status 1, the reason on stderr, and the directory as it was."""
    path = tmp_path / "notes.db"
    _foreign(path, wal=wal, application_id=7)
    content = path.read_bytes()
    assert cli([command[0], str(path), *command[1:]]) == 1
    said = capsys.readouterr().err
    assert said == (
        f"error: '{path}' is not a trouper store: it is an SQLite database of another "
        "application (application_id 7)\n"
    )
    assert os.listdir(tmp_path) == ["notes.db"]
    assert path.read_bytes() == content


def test_a_store_of_a_newer_version_is_refused_leaving_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trouper store of a newer schema, refused by ``inspect``, gets no ``-wal``/``-shm``."""
    path = tmp_path / "shop.db"
    _foreign(path, wal=True, user_version=99, application_id=0x54525052)
    assert cli(["inspect", str(path)]) == 1
    assert "schema version 99" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["shop.db"]


def test_a_database_open_by_its_application_is_refused_and_its_log_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While another program has it open (its log there), it is still refused; its files stay."""
    path = tmp_path / "notes.db"
    _foreign(path, wal=True, application_id=7)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("INSERT INTO notes VALUES ('open')")
        connection.commit()
        before = sorted(os.listdir(tmp_path))
        assert before == ["notes.db", "notes.db-shm", "notes.db-wal"]
        assert cli(["inspect", str(path)]) == 1
        assert "application_id 7" in capsys.readouterr().err
        assert sorted(os.listdir(tmp_path)) == before
        assert connection.execute("SELECT count(*) FROM notes").fetchone()[0] == 1
