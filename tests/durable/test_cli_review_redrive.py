"""The command line's redrive and discard, which the README promises: ids checked, the lock kept."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
import trio
from durable_support import Taker, make_store, serving
from test_dead_letter_queue import bury

from trouper.durable import SqliteStore
from trouper.durable.__main__ import main as cli


def _bury(path: Path, mailbox: str, *texts: str) -> None:
    async def run() -> None:
        async with make_store(path) as store:
            await bury(store, mailbox, *texts)

    trio.run(run)


def _state(path: Path) -> tuple[list[tuple[str, int, int]], list[int]]:
    """Each mailbox's (name, depth, dead), and the ids of the dead letters left."""

    async def run() -> tuple[list[tuple[str, int, int]], list[int]]:
        async with make_store(path) as store:
            boxes = [(m.name, m.depth, m.dead) for m in await store.mailbox_statistics()]
            return boxes, [d.id async for d in store.dead_letters()]

    return trio.run(run)


def _state_read_only(path: Path) -> list[tuple[int, bytes]]:
    """The dead letters' ids and payloads, read without opening the store (it would recover)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return connection.execute("SELECT id, payload FROM dead_letters ORDER BY id").fetchall()


def test_redrive_by_id_gives_the_dead_letter_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``redrive STORE MAILBOX --id N`` moves that dead letter back to its mailbox."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a", "b")
    a, b = _state(path)[1]
    assert cli(["redrive", str(path), "orders", "--id", str(b)]) == 0
    assert capsys.readouterr().out == "redrove 1 dead letter of 'orders' to its mailbox\n"
    assert _state(path) == ([("orders", 1, 1)], [a])


def test_discard_all_of_a_mailbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``discard STORE MAILBOX --all`` deletes that mailbox's dead letters, no other's."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a", "b")
    _bury(path, "billing", "c")
    c = _state(path)[1][-1]
    assert cli(["discard", str(path), "orders", "--all"]) == 0
    assert capsys.readouterr().out == "discarded 2 dead letters of 'orders'\n"
    assert _state(path) == ([("billing", 0, 1), ("orders", 0, 0)], [c])


def test_an_unknown_id_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An id that is not a dead letter of the mailbox is refused, and the others stay."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a")
    _bury(path, "billing", "b")
    a, b = _state(path)[1]
    assert cli(["discard", str(path), "orders", "--id", str(a), "--id", str(b), "--id", "0"]) == 1
    assert capsys.readouterr().err == (
        f"error: store '{path}': no dead letter #0, #{b} in mailbox 'orders' (nothing changed)\n"
    )
    assert _state(path)[1] == [a, b]


def test_an_unknown_mailbox_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mailbox the store does not have is named in the error."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a")
    assert cli(["redrive", str(path), "order", "--all"]) == 1
    assert capsys.readouterr().err == f"error: store '{path}': no mailbox 'order'\n"


def test_a_missing_file_is_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Redrive on a path where no store is does not make one."""
    path = tmp_path / "nope.db"
    assert cli(["redrive", str(path), "orders", "--all"]) == 1
    assert capsys.readouterr().err == f"error: store '{path}': no such file\n"
    assert list(tmp_path.iterdir()) == []


def test_ids_or_all_must_be_given(tmp_path: Path) -> None:
    """Neither ``--id`` nor ``--all`` is a usage error (nothing is discarded by default)."""
    with pytest.raises(SystemExit) as exited:
        cli(["discard", str(tmp_path / "shop.db"), "orders"])
    assert exited.value.code == 2


def test_a_store_a_runtime_has_open_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store's lock is kept: with the store open elsewhere, nothing is changed."""
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a")
    results: list[int] = []

    async def run() -> None:
        async with SqliteStore(path, synchronous="normal"):
            results.append(
                await trio.to_thread.run_sync(cli, ["discard", str(path), "orders", "--all"])
            )

    trio.run(run)
    assert results == [1]
    assert "is in use by another runtime" in capsys.readouterr().err
    assert _state(path)[1] == [1]


def test_a_command_on_a_store_left_by_a_crash_keeps_the_crash_on_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The claims a crash left are for its runtime's next start to recover: the command keeps them.

    The command opens and closes the store without opening ``billing``; the
    message it was handling when the process died still comes back charged
    for that delivery.
    """
    path = tmp_path / "shop.db"
    _bury(path, "orders", "a")

    async def crashed() -> None:
        store = make_store(path)
        await store.open()
        async with serving(store, "billing") as queue:
            assert await queue.put("charge")
            await Taker().take(queue)
            await store.simulate_crash()

    trio.run(crashed)
    assert cli(["discard", str(path), "orders", "--all"]) == 0
    assert capsys.readouterr().out == "discarded 1 dead letter of 'orders'\n"
    assert _state_read_only(path) == []

    async def recovered() -> tuple[object, int]:
        async with make_store(path) as store, serving(store, "billing") as queue:
            delivery = await Taker().take(queue)
            return delivery.message, delivery.attempt

    assert trio.run(recovered) == ("charge", 2)
