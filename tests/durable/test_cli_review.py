"""The inspect command line, reviewed: a store another program locks, a reader that stops early."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest
import trio
from durable_support import make_store
from test_dead_letter_queue import bury

from trouper.durable.__main__ import main as cli
from trouper.errors import NotAStore


async def _store_with_a_dead_letter(path: Path) -> None:
    async with make_store(path) as store:
        await bury(store, "orders", "o-1")


async def test_inspect_says_a_locked_store_is_locked_not_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store another program holds SQLite's exclusive lock on is reported locked, untouched."""
    path = tmp_path / "shop.db"
    await _store_with_a_dead_letter(path)
    before = path.read_bytes()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO meta VALUES ('held', 1)")
        assert cli(["inspect", str(path)]) == 1
    finally:
        holder.close()
    assert capsys.readouterr().err == (
        f"error: store '{path}' is locked by another program "
        "(an SQLite connection outside trouper holds its lock)\n"
    )
    assert path.read_bytes() == before


@pytest.mark.real_clock
async def test_inspect_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """A reader that stops early (``| head``) ends the command with status 1 and no traceback."""
    path = tmp_path / "shop.db"
    await _store_with_a_dead_letter(path)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        with trio.fail_after(20):
            done = await trio.run_process(
                [sys.executable, "-m", "trouper.durable", "inspect", str(path)],
                stdout=write,
                capture_stderr=True,
                check=False,
            )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr.decode()) == (1, "")


def test_inspect_says_a_directory_is_not_a_store_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory given as the store is named as such, not as a missing file."""
    assert cli(["inspect", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: store '{tmp_path}': it is a directory, not a file\n"


@pytest.mark.parametrize("command", [["inspect"], ["redrive", "orders", "--all"]])
async def test_a_file_that_is_not_sqlite_is_named_not_a_store_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A text file is 'not a trouper store', said as the store says it (the name once)."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    with pytest.raises(NotAStore) as raised:
        await make_store(path).open()
    assert cli([command[0], str(path), *command[1:]]) == 1
    assert capsys.readouterr().err == f"error: {raised.value}\n"
    assert path.read_text() == "not a database\n"
