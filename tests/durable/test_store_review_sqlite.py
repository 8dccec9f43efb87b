"""The SQLite store under failure: crashes, failed commits, runs that end with the store open."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import outcome
import pytest
import trio
import trio.testing
from durable_support import make_store

from trouper.durable import WriteBatch
from trouper.errors import StoreFailed

ROOT = Path(__file__).resolve().parents[2]


def appends(*texts: str, mailbox: str = "box") -> WriteBatch:
    batch = WriteBatch()
    for text in texts:
        batch.append(mailbox, "str", text.encode())
    return batch


async def outcome_once_blocked(wait: Callable[[], Awaitable[object]]) -> outcome.Outcome[object]:
    """Run ``wait()`` in a task; its outcome once every task is blocked (a parked one fails)."""
    results: list[outcome.Outcome[object]] = []
    parked: list[trio.lowlevel.Task] = []

    async def waiter() -> None:
        parked.append(trio.lowlevel.current_task())
        results.append(await outcome.acapture(wait))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        if not results:
            # Still parked, and nothing will ever wake it: wake it here so the test ends.
            trio.lowlevel.reschedule(parked[0], outcome.Error(AssertionError("never woken")))
    return results[0]


async def test_ids_after_a_crash_are_not_taken_for_that_crash_s_suspects(tmp_path: Path) -> None:
    """A message appended after a crash is a first delivery, even if the crashed claim was acked."""
    path = tmp_path / "s.db"
    store = make_store(path)
    await store.open()
    await store.submit(appends("a", "b", "c"))
    window = await store.fetch("box", limit=10)
    acks = WriteBatch()
    for message in window:
        acks.ack(message.id)
    await store.submit(acks)
    await store.simulate_crash()
    async with make_store(path) as store:
        fresh = appends("new")
        await store.submit(fresh)
        opening = await store.open_mailbox("box")
        assert await store.next_suspect("box", after=None, max_deliveries=1) is None
        (message,) = await store.fetch("box", limit=10)
    assert fresh.appends[0].id > window[-1].id
    assert opening.depth == 1
    assert (message.payload, message.deliveries) == (b"new", 0)


async def test_durable_on_a_batch_a_crash_dropped_raises(tmp_path: Path) -> None:
    """Waiting for a batch that a simulated crash dropped raises instead of waiting forever."""
    store = make_store(tmp_path / "s.db")
    await store.open()
    batch = appends("lost")
    store.stage(batch)
    await store.simulate_crash()
    result = await outcome_once_blocked(lambda: store.durable(batch))
    with pytest.raises(trio.ClosedResourceError, match=r"is not open$"):
        result.unwrap()


async def test_flush_after_a_crash_dropped_what_was_staged_raises(tmp_path: Path) -> None:
    """``flush`` does not report as durable a batch that a simulated crash dropped."""
    store = make_store(tmp_path / "s.db")
    await store.open()
    store.stage(appends("lost"))
    await store.simulate_crash()
    with pytest.raises(trio.ClosedResourceError, match=r"is not open$"):
        await store.flush()


@pytest.mark.parametrize("threads", [True, False])
async def test_durable_on_a_batch_a_failed_commit_dropped_raises(
    tmp_path: Path, threads: bool
) -> None:
    """Waiting for a batch dropped by the failure of the commit before it raises StoreFailed."""
    async with make_store(tmp_path / "s.db", max_size=128 * 1024, threads=threads) as store:
        # Big enough to fill a group of its own (the next batch waits) and the file.
        store.stage(appends(*("x" * 200 for _ in range(2000))))
        batch = appends("behind it")
        store.stage(batch)
        with pytest.raises(StoreFailed, match=r"database or disk is full"):
            await store.flush()
        result = await outcome_once_blocked(lambda: store.durable(batch))
        with pytest.raises(StoreFailed, match=r"database or disk is full"):
            result.unwrap()


def test_a_run_that_ends_with_the_store_open_still_ends(tmp_path: Path) -> None:
    """A run whose store was opened and never closed ends (the committer task is cancelled)."""
    program = textwrap.dedent(
        f"""
        import trio
        from trouper.durable import SqliteStore, WriteBatch

        async def main():
            store = SqliteStore({str(tmp_path / "s.db")!r}, synchronous="normal")
            await store.open()
            batch = WriteBatch()
            batch.append("box", "str", b"kept")
            await store.submit(batch)
            raise KeyError("the body failed")

        try:
            trio.run(main)
        except KeyError as error:
            print("raised", error)
        """
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", program],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the run did not end")
    assert (done.returncode, done.stdout, done.stderr) == (0, "raised 'the body failed'\n", "")


@pytest.mark.parametrize("threads", [True, False])
async def test_a_commit_callback_that_raises_is_logged_and_the_rest_go_on(
    tmp_path: Path, threads: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """An ``after_commit`` callback that raises is logged; the others run, the store goes on."""
    ran: list[str] = []
    store = make_store(tmp_path / "s.db", threads=threads)
    await store.open()  # closed only if all went well: a broken store could not close
    batch = appends("a")
    batch.after_commit(lambda: 1 / 0)
    batch.after_commit(lambda: ran.append("after it"))
    store.stage(batch)
    await trio.sleep(1)  # on virtual time: once the store and every task are idle
    await store.submit(appends("b"))
    (box,) = await store.mailbox_statistics()
    await store.aclose()
    assert (ran, box.depth) == (["after it"], 2)
    (record,) = caplog.records
    assert record.getMessage() == f"durable store {tmp_path / 's.db'}: a commit callback raised"
    assert record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError


async def test_open_cancelled_while_the_writer_opens_releases_the_file(tmp_path: Path) -> None:
    """An ``open`` cancelled while its writer thread works closes what it opened: no lock kept."""
    path = tmp_path / "s.db"
    async with make_store(path):
        pass
    # Another program holds the file (an exclusive lock), so the writer thread waits for it.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    store = make_store(path)
    cancelled: list[bool] = []
    with trio.CancelScope() as scope:

        async def opener() -> None:
            await store.open()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(opener)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
            holder.execute("COMMIT")
            holder.close()
    cancelled.append(scope.cancelled_caught)
    async with make_store(path) as again:
        await again.submit(appends("after"))
    assert cancelled == [True]


async def test_a_fetch_whose_prepare_raises_still_returns_its_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``prepare`` that raises is logged; the claimed window is still returned to the caller."""

    def prepare(_: object) -> None:
        raise ValueError("cannot prepare")

    store = make_store(tmp_path / "s.db")
    await store.open()  # closed only if all went well: a broken store could not close
    await store.submit(appends("a", "b"))
    window = await store.fetch("box", limit=10, prepare=prepare)
    await store.aclose()
    assert [message.payload for message in window] == [b"a", b"b"]
    (record,) = caplog.records
    assert record.getMessage() == "durable store: a fetch's prepare raised (mailbox 'box')"
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
