"""StoreStatistics.pending counts batches staged and not committed, not operations."""

from __future__ import annotations

from pathlib import Path

from durable_support import make_store

from trouper.durable import WriteBatch


async def test_pending_counts_no_operation_as_a_batch(tmp_path: Path) -> None:
    """A batch over a group's row cap commits alone; the mailbox opening left behind is no batch."""
    async with make_store(tmp_path / "shop.db") as store:
        big = WriteBatch()
        for n in range(2001):
            big.append("box", "str", b"%d" % n)
        seen: list[int] = []
        big.after_commit(lambda: seen.append(store.statistics().pending))
        store.stage(big)
        await store.open_mailbox("box")
        assert seen == [0]
        assert store.statistics().pending == 0
