"""The inspect command line, reviewed: a store another program locks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from durable_support import make_store
from test_dead_letter_queue import bury

from trouper.durable.__main__ import main as cli


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

