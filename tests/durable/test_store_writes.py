"""Writing to the store: group commit, the flush barrier, virtual time, full disks, dedup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio
from durable_support import Taker, make_store, serving

from trouper.durable import Durable, WriteBatch
from trouper.errors import StoreFailed
from trouper.runtime.lowlevel import MailboxEnding, WithMsgId


def one_append(text: str, mailbox: str = "box") -> WriteBatch:
    batch = WriteBatch()
    batch.append(mailbox, "str", text.encode())
    return batch


async def test_concurrent_submitters_share_transactions(tmp_path: Path) -> None:
    """100 batches submitted together commit in far fewer transactions than batches."""
    async with make_store(tmp_path / "s.db") as store:
        async with trio.open_nursery() as nursery:
            for n in range(100):
                nursery.start_soon(store.submit, one_append(f"m{n}"))
        statistics = store.statistics()
    assert (statistics.batches, statistics.rows) == (100, 100)
    assert statistics.commits <= 2
    assert statistics.largest_group >= 50


async def test_staged_batches_are_durable_after_flush(tmp_path: Path) -> None:
    """``stage`` returns at once; ``flush`` returns once everything staged before it committed."""
    async with make_store(tmp_path / "s.db") as store:
        for n in range(10):
            store.stage(one_append(f"m{n}"))
        assert store.statistics().batches == 0
        await store.flush()
        assert (store.statistics().batches, store.statistics().pending) == (10, 0)
        (box,) = await store.mailbox_statistics()
    assert (box.name, box.depth, box.ready) == ("box", 10, 10)


async def test_idle_flush_commits_nothing(tmp_path: Path) -> None:
    """A flush with nothing staged makes no transaction."""
    async with make_store(tmp_path / "s.db") as store:
        await store.flush()
        assert store.statistics().commits == 0


async def test_virtual_time_stands_still_while_sqlite_works(tmp_path: Path) -> None:
    """On a MockClock, a commit takes no virtual time even while another task sleeps."""
    woke: list[float] = []

    async def sleeper() -> None:
        await trio.sleep(5)
        woke.append(trio.current_time())

    async with make_store(tmp_path / "s.db") as store, trio.open_nursery() as nursery:
        nursery.start_soon(sleeper)
        await trio.testing.wait_all_tasks_blocked()
        for n in range(20):
            await store.submit(one_append(f"m{n}"))
        assert (trio.current_time(), woke) == (0.0, [])
    assert woke == [5.0]


async def test_full_disk_fails_the_submit_and_the_store(tmp_path: Path) -> None:
    """A commit that does not fit fails its submitter, and every write after it."""
    async with make_store(tmp_path / "s.db", max_size=128 * 1024) as store:
        await store.submit(one_append("kept"))
        with pytest.raises(StoreFailed, match=r"database or disk is full") as failure:
            await store.submit(one_append("x" * 300_000))
        assert isinstance(failure.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(StoreFailed):
            store.stage(one_append("later"))
        assert store.statistics().failed
    async with make_store(tmp_path / "s.db") as store:
        (box,) = await store.mailbox_statistics()
    assert box.depth == 1


async def test_a_failed_commit_runs_its_failure_callbacks_not_its_commit_callbacks(
    tmp_path: Path,
) -> None:
    """A failed commit calls its ``after_failure`` callbacks with the error, no ``after_commit``."""
    ran: list[object] = []
    async with make_store(tmp_path / "s.db", max_size=128 * 1024) as store:
        kept = one_append("kept")
        kept.after_commit(lambda: ran.append("committed"))
        kept.after_failure(ran.append)
        await store.submit(kept)
        lost = one_append("x" * 300_000)
        lost.after_commit(lambda: ran.append("not committed"))
        lost.after_failure(ran.append)
        with pytest.raises(StoreFailed):
            await store.submit(lost)
    assert ran[0] == "committed"
    assert [type(error) for error in ran[1:]] == [StoreFailed]
    assert "database or disk is full" in str(ran[1])


async def test_ack_in_a_failed_commit_is_not_acknowledged(tmp_path: Path) -> None:
    """A handled message whose ack did not commit is delivered again after reopening."""
    failures: list[BaseException] = []
    path = tmp_path / "s.db"
    async with (
        make_store(path, max_size=128 * 1024) as store,
        serving(store, on_failure=failures.append) as queue,
    ):
        assert await queue.put("order")
        delivery = await Taker().take(queue)
        delivery.send(queue, "y" * 300_000)
        queue.settle(delivery, MailboxEnding.HANDLED, None)
        with pytest.raises(StoreFailed):
            await store.flush()
    assert len(failures) == 1
    async with make_store(path) as store, serving(store) as queue:
        again = await Taker().take(queue)
    assert (again.message, again.id) == ("order", delivery.id)


async def test_duplicate_within_the_window_is_dropped(tmp_path: Path) -> None:
    """A second message with the same msg_id inside the window is not stored."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put(WithMsgId("charge o-1", "o-1"))
        await trio.sleep(119)
        assert await queue.put(WithMsgId("charge o-1 again", "o-1"))
        assert queue.depth == 1
        assert (await Taker().take(queue)).msg_id == "o-1"


async def test_same_msg_id_after_the_window_is_stored(tmp_path: Path) -> None:
    """Once the window has passed (virtual time), the id is accepted again."""
    async with make_store(tmp_path / "s.db") as store, serving(store) as queue:
        assert await queue.put(WithMsgId("first", "o-1"))
        await trio.sleep(120.5)
        assert await queue.put(WithMsgId("second", "o-1"))
        assert queue.depth == 2


async def test_dedup_ids_are_per_mailbox(tmp_path: Path) -> None:
    """The same msg_id in two mailboxes is two messages."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "a") as a,
        serving(store, "b") as b,
    ):
        assert await a.put(WithMsgId("x", "k"))
        assert await b.put(WithMsgId("x", "k"))
        assert (a.depth, b.depth) == (1, 1)


async def test_no_window_keeps_ids_for_good(tmp_path: Path) -> None:
    """With ``dedup_window=None`` an id is never accepted twice, however late."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, options=Durable(dedup_window=None)) as queue,
    ):
        assert await queue.put(WithMsgId("first", "o-1"))
        await trio.sleep(10 * 365 * 86400)
        assert await queue.put(WithMsgId("second", "o-1"))
        assert queue.depth == 1


async def test_expired_ids_are_purged_by_later_commits(tmp_path: Path) -> None:
    """Ids whose window passed leave the file with the next commits, without a timer."""
    path = tmp_path / "s.db"
    async with make_store(path) as store, serving(store) as queue:
        for n in range(10):
            assert await queue.put(WithMsgId(f"m{n}", f"id-{n}"))
        await trio.sleep(121)
        assert await queue.put("a later message without id")
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM dedup").fetchone()[0] == 0


async def test_fetch_hands_its_window_to_prepare_before_returning_it(tmp_path: Path) -> None:
    """``fetch(prepare=...)`` calls ``prepare`` once with the very list it then returns."""
    async with make_store(tmp_path / "s.db") as store:
        for n in range(3):
            await store.submit(one_append(f"m{n}"))
        seen: list[object] = []
        window = await store.fetch("box", limit=10, prepare=seen.append)
        empty = await store.fetch("box", after=window[-1].id, limit=10, prepare=seen.append)
    assert [message.payload for message in window] == [b"m0", b"m1", b"m2"]
    assert empty == []
    assert len(seen) == 1
    assert seen[0] is window
