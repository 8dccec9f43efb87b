"""A SqliteStore's listeners, reviewed: one that raises is logged, and every waiter still wakes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from durable_support import make_store

from trouper.durable import Append, WriteBatch
from trouper.errors import StoreFailed, StoreRefused


class Raising:
    """A listener that raises at every call (a consumer's bug)."""

    def __init__(self) -> None:
        self.told: list[str] = []

    def appended(self, appends: Sequence[Append]) -> None:
        self.told.append("appended")
        raise RuntimeError("listener bug")

    def refused(self, refusals: Sequence[tuple[Append, StoreRefused]]) -> None:
        self.told.append("refused")
        raise RuntimeError("listener bug")

    def store_failed(self, error: BaseException) -> None:
        self.told.append("store_failed")
        raise RuntimeError("listener bug")


class Recording:
    """A listener that notes what it is told."""

    def __init__(self) -> None:
        self.told: list[str] = []

    def appended(self, appends: Sequence[Append]) -> None:
        self.told.append("appended")

    def refused(self, refusals: Sequence[tuple[Append, StoreRefused]]) -> None:
        self.told.append("refused")

    def store_failed(self, error: BaseException) -> None:
        self.told.append("store_failed")


def _batch(*mailboxes: str, size: int = 1) -> WriteBatch:
    batch = WriteBatch()
    for mailbox in mailboxes:
        batch.append(mailbox, "str", b"x" * size)
    return batch


@pytest.mark.parametrize("threads", [True, False])
async def test_a_listener_that_raises_is_logged_and_the_commit_still_returns(
    tmp_path: Path, threads: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A listener raising on a commit is logged; the others are told, its sender returns."""
    path = tmp_path / "s.db"
    async with make_store(path, threads=threads) as store:
        raising, recording = Raising(), Recording()
        store.attach("a", raising)
        store.attach("b", recording)
        await store.submit(_batch("a", "b"))
        (box_a, box_b) = await store.mailbox_statistics()
        assert (box_a.depth, box_b.depth) == (1, 1)
        assert (raising.told, recording.told) == (["appended"], ["appended"])
    assert [r.getMessage() for r in caplog.records] == [
        f"durable store {path}: a listener of mailbox 'a' raised"
    ]


async def test_a_listener_that_raises_on_a_failure_leaves_the_others_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed commit tells every listener, even after one raised; its sender gets the failure."""
    path = tmp_path / "s.db"
    async with make_store(path, max_size=65536) as store:
        raising, recording = Raising(), Recording()
        store.attach("a", raising)
        store.attach("b", recording)
        with pytest.raises(StoreFailed, match="full"):
            await store.submit(_batch(*["c"] * 200, size=1000))
        assert (raising.told, recording.told) == (["store_failed"], ["store_failed"])
    assert [r.getMessage() for r in caplog.records] == [
        f"durable store {path}: a listener of mailbox 'a' raised"
    ]
