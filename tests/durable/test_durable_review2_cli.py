"""The command line, reviewed again: file names SQLite would read as a URI, a limit too big."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import make_store
from test_dead_letter_queue import bury

from trouper.durable.__main__ import main as cli


def _bury(path: Path, mailbox: str, *texts: str) -> None:
    async def run() -> None:
        async with make_store(path) as store:
            await bury(store, mailbox, *texts)

    trio.run(run)


@pytest.mark.parametrize("name", ["a%20b.db", "shop?x.db", "shop#x.db"])
def test_inspect_reads_a_store_whose_name_has_uri_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A store named with ``%``, ``?`` or ``#`` is read as that file, not as a URI."""
    path = tmp_path / name
    _bury(path, "orders", "a")
    assert cli(["inspect", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "dead letters: 1" in captured.out


def test_redrive_works_on_a_store_whose_name_has_uri_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``redrive`` checks the same file it then changes, whatever its name."""
    path = tmp_path / "a%20b.db"
    _bury(path, "orders", "a")
    assert cli(["redrive", str(path), "orders", "--all"]) == 0
    assert capsys.readouterr().out == "redrove 1 dead letter of 'orders' to its mailbox\n"


def test_inspect_takes_a_limit_beyond_sqlites_integers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``--limit`` bigger than SQLite's integers lists everything, without a traceback."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a", "b")
    assert cli(["inspect", "--limit", str(2**64), str(path)]) == 0
    out = capsys.readouterr().out
    assert "dead letters: 2\n" in out


def test_inspect_says_a_special_file_is_not_a_regular_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A path that exists but is no regular file (a device) is not reported missing."""
    assert cli(["inspect", "/dev/null"]) == 1
    assert capsys.readouterr().err == "error: store '/dev/null': it is not a regular file\n"
