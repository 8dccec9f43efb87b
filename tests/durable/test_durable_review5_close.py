"""Closing a SqliteStore, reviewed: a second ``aclose`` waits until the store is closed."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from durable_support import make_store

from trouper.durable import SqliteStore, WriteBatch


async def _open_with_one_staged(path: Path) -> SqliteStore:
    """An open store with one message to ``orders`` staged, not yet committed."""
    store = make_store(path)
    await store.open()
    batch = WriteBatch()
    batch.append("orders", "str", b"o-1")
    store.stage(batch)
    return store


async def _assert_committed(path: Path) -> None:
    """The store at ``path`` opens again (its lock released) with the staged message in it."""
    async with make_store(path) as again:
        [counts] = await again.mailbox_statistics()
        assert (counts.name, counts.depth) == ("orders", 1)


async def test_a_second_aclose_returns_once_the_store_is_closed(tmp_path: Path) -> None:
    """Two tasks close one store: the second returns once the first's commit and close are done."""
    path = tmp_path / "shop.db"
    store = await _open_with_one_staged(path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.aclose)
        await trio.testing.wait_all_tasks_blocked()
        await store.aclose()
        assert repr(store).endswith(" closed>")
        await _assert_committed(path)


async def test_aclose_during_a_simulated_crash_returns_once_it_is_over(tmp_path: Path) -> None:
    """``aclose`` while a crash is being simulated returns once the lock is released."""
    path = tmp_path / "shop.db"
    store = make_store(path)
    await store.open()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.simulate_crash)
        await trio.testing.wait_all_tasks_blocked()
        await store.aclose()
        async with make_store(path):
            pass


async def test_flush_while_the_store_closes_waits_for_the_close_commit(tmp_path: Path) -> None:
    """``flush`` during ``aclose`` returns once the close committed what was staged, no error."""
    path = tmp_path / "shop.db"
    store = await _open_with_one_staged(path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.aclose)
        await trio.testing.wait_all_tasks_blocked()
        await store.flush()
    await _assert_committed(path)


async def test_aclose_while_the_store_opens_closes_it_once_open(tmp_path: Path) -> None:
    """``aclose`` called while another task opens the store returns with the store closed."""
    path = tmp_path / "shop.db"
    store = make_store(path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.open)
        await trio.testing.wait_all_tasks_blocked()
        await store.aclose()
    assert repr(store).endswith(" closed>")
    async with make_store(path):
        pass


async def test_a_simulated_crash_while_the_store_opens_crashes_it_once_open(
    tmp_path: Path,
) -> None:
    """``simulate_crash`` called while another task opens the store is not dropped."""
    path = tmp_path / "shop.db"
    store = make_store(path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.open)
        await trio.testing.wait_all_tasks_blocked()
        await store.simulate_crash()
    assert repr(store).endswith(" crashed>")
    async with make_store(path):
        pass
