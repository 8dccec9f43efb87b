"""Capacity holds across the opening of a mailbox, whatever commits while it is on its way."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from durable_support import GatedStore, make_store, serving

from trouper.durable import Durable, MailboxOpening

OPTIONS = Durable(capacity=3)


class LateOpenings(GatedStore):
    """A store whose openings, once ``hold`` is set, return only when ``gate`` is set.

    The opening has committed (``held`` is set) but its caller resumes late,
    as a serving task does when it is woken after other tasks waiting on the
    same commit, and after a later commit has been heard.
    """

    async def open_mailbox(self, mailbox: str) -> MailboxOpening:
        opening = await self.inner.open_mailbox(mailbox)
        if self.hold:
            self.hold = False
            self.held.set()
            await self.gate.wait()
        return opening


async def test_appends_committed_after_an_opening_count_toward_capacity(tmp_path: Path) -> None:
    """Messages stored after the opening's count, heard before it returns, fill the mailbox."""
    async with make_store(tmp_path / "s.db") as store:
        late = LateOpenings(store)
        async with serving(late, options=OPTIONS) as queue:  # type: ignore[arg-type]
            assert queue.put_nowait("a")
            await store.flush()
            queue.close()
            late.hold = True
            queue.reopen()  # a restarted actor: senders may put while it opens
            await late.held.wait()
            assert queue.put_nowait("b")
            assert queue.put_nowait("c")
            await store.flush()  # heard by the queue before its opening returns
            late.gate.set()
            await trio.testing.wait_all_tasks_blocked()
            assert queue.depth == 3
            assert not queue.put_nowait("d")
        (stats,) = await store.mailbox_statistics()
    assert stats.depth == 3


async def test_appends_committed_with_an_opening_are_counted_once(tmp_path: Path) -> None:
    """Messages stored in the opening's commit, heard before it returns, are counted once."""
    async with make_store(tmp_path / "s.db") as store:
        late = LateOpenings(store)
        async with serving(late, options=OPTIONS) as queue:  # type: ignore[arg-type]
            assert queue.put_nowait("a")
            await store.flush()
            queue.close()
            late.hold = True
            queue.reopen()
            assert queue.put_nowait("b")  # staged before the opening: in its count
            await late.held.wait()
            late.gate.set()
            await trio.testing.wait_all_tasks_blocked()
            assert queue.depth == 2
            assert queue.put_nowait("c")
            assert not queue.put_nowait("d")
            await store.flush()
        (stats,) = await store.mailbox_statistics()
    assert stats.depth == 3
