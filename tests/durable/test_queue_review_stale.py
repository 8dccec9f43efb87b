"""A delivery taken before a close and settled after it only settles its stored message."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from durable_support import GatedStore, HeldWrites, Taker, make_store, serving

from trouper.durable import Durable, GiveUp, MailboxOpening, Retry
from trouper.runtime.lowlevel import MailboxEnding

OPTIONS = Durable(capacity=3, max_deliveries=1)


class LateOpenings(GatedStore):
    """Openings made once ``hold`` is set wait for ``gate``: before their count, or after it.

    With ``before`` the opening waits before it reaches the store (what is
    staged meanwhile commits before its count); otherwise it has committed
    (``held`` is set) and its caller resumes only once ``gate`` is set.
    """

    before = False

    async def open_mailbox(self, mailbox: str) -> MailboxOpening:
        if self.hold and self.before:
            self.hold = False
            self.held.set()
            await self.gate.wait()
            return await self.inner.open_mailbox(mailbox)
        opening = await self.inner.open_mailbox(mailbox)
        if self.hold:
            self.hold = False
            self.held.set()
            await self.gate.wait()
        return opening


@pytest.mark.parametrize("before", [False, True], ids=["after-the-count", "before-the-count"])
async def test_an_ack_committed_while_the_mailbox_opens_frees_exactly_one_slot(
    tmp_path: Path, before: bool
) -> None:
    """A stale delivery acked while the reopened mailbox is counted leaves the depth exact."""
    async with make_store(tmp_path / "s.db", threads=False) as store:
        late = LateOpenings(store)
        late.before = before
        async with serving(late, options=OPTIONS) as queue:  # type: ignore[arg-type]
            assert queue.put_nowait("a")
            assert queue.put_nowait("b")
            await store.flush()
            stale = await Taker().take(queue)
            queue.close()
            late.hold = True
            queue.reopen()
            await late.held.wait()
            queue.settle(stale, MailboxEnding.HANDLED, None)
            await store.flush()
            late.gate.set()
            await trio.testing.wait_all_tasks_blocked()
            assert queue.depth == 1
            assert queue.put_nowait("c")
            assert queue.put_nowait("d")
            assert not queue.put_nowait("e")
            await store.flush()
            assert [d.message async for d in store.dead_letters()] == []
        (stats,) = await store.mailbox_statistics()
    assert stats.depth == 3


@pytest.mark.parametrize("stale_first", [False, True], ids=["new-first", "stale-first"])
async def test_a_message_acked_by_both_generations_is_counted_out_once(
    tmp_path: Path, stale_first: bool
) -> None:
    """The stale delivery and the reopened mailbox's own delivery of it free one slot."""
    async with (
        make_store(tmp_path / "s.db", threads=False) as store,
        serving(store, options=OPTIONS) as queue,
    ):
        assert queue.put_nowait("a")
        await store.flush()
        stale = await Taker().take(queue)
        queue.close()
        queue.reopen()
        await trio.testing.wait_all_tasks_blocked()
        again = await Taker().take(queue)
        assert (again.id, again.message) == (stale.id, "a")
        for delivery in (stale, again) if stale_first else (again, stale):
            queue.settle(delivery, MailboxEnding.HANDLED, None)
        assert queue.depth == 0
        for text in "bcd":
            assert queue.put_nowait(text)
        assert not queue.put_nowait("e")
        await store.flush()
        (stats,) = await store.mailbox_statistics()
        assert stats.depth == 3


@pytest.mark.parametrize(
    "error",
    [ValueError("boom"), GiveUp("no"), Retry(after=3.0), None],
    ids=["error", "give-up", "retry", "no-handler"],
)
async def test_a_stale_delivery_that_was_not_handled_leaves_its_message_stored(
    tmp_path: Path, error: BaseException | None
) -> None:
    """Failed after the reopen, it writes nothing: the new delivery of it goes on untouched."""
    async with (
        make_store(tmp_path / "s.db", threads=False) as store,
        serving(store, options=OPTIONS) as queue,
    ):
        assert queue.put_nowait("a")
        await store.flush()
        stale = await Taker().take(queue)
        queue.close()
        queue.reopen()
        await trio.testing.wait_all_tasks_blocked()
        queue.settle(stale, MailboxEnding.FAILED, error)
        await store.flush()
        (stats,) = await store.mailbox_statistics()
        assert (stats.depth, stats.delayed, stats.dead) == (1, 0, 0)
        assert queue.depth == 1
        again = await Taker().handle(queue)
        assert (again.id, again.attempt) == (stale.id, 1)
        await store.flush()
        (stats,) = await store.mailbox_statistics()
        assert (stats.depth, stats.dead) == (0, 0)
        assert queue.depth == 0


async def test_a_message_acked_two_generations_ago_makes_no_room_again(tmp_path: Path) -> None:
    """Acked by the generation after the one that took it, its stale ack frees nothing more."""
    async with (
        make_store(tmp_path / "s.db", threads=False) as store,
        serving(store, options=OPTIONS) as queue,
    ):
        assert queue.put_nowait("a")
        assert queue.put_nowait("b")
        await store.flush()
        stale = await Taker().take(queue)
        queue.close()
        queue.reopen()
        await trio.testing.wait_all_tasks_blocked()
        again = await Taker().handle(queue)
        assert again.id == stale.id
        queue.close()
        queue.reopen()
        await trio.testing.wait_all_tasks_blocked()
        queue.settle(stale, MailboxEnding.HANDLED, None)
        assert queue.depth == 1
        assert queue.put_nowait("c")
        assert queue.put_nowait("d")
        assert not queue.put_nowait("e")
        await store.flush()
        (stats,) = await store.mailbox_statistics()
        assert stats.depth == 3


async def test_a_stale_ack_of_a_message_delayed_at_the_opening_frees_its_slot(
    tmp_path: Path,
) -> None:
    """Failed by the next generation, then acked by the stale delivery: one slot comes back."""
    options = Durable(capacity=3, backoff=(10.0,))
    async with (
        make_store(tmp_path / "s.db", threads=False) as store,
        serving(store, options=options) as queue,
    ):
        assert queue.put_nowait("a")
        await store.flush()
        first = await Taker().take(queue)
        queue.close()
        queue.reopen()
        await trio.testing.wait_all_tasks_blocked()
        second = await Taker().fail(queue, ValueError("boom"))  # delayed for 10 s
        assert second.id == first.id
        await store.flush()
        queue.close()
        queue.reopen()  # the opening finds it delayed: a timer that reads it back
        await trio.testing.wait_all_tasks_blocked()
        queue.settle(first, MailboxEnding.HANDLED, None)
        await store.flush()
        assert queue.depth == 0
        await trio.sleep(20)  # the timer finds it gone
        assert queue.depth == 0
        assert not queue.items
        for text in "bcd":
            assert queue.put_nowait(text)
        assert not queue.put_nowait("e")


@pytest.mark.parametrize(
    ("key", "acked"), [(None, False), ("elsewhere", True)], ids=["own-state", "other-key"]
)
async def test_a_stale_delivery_that_saved_the_mailbox_state_is_handled_again(
    tmp_path: Path, key: str | None, acked: bool
) -> None:
    """The mailbox's state is the current generation's: a stale save of it is not committed."""
    async with (
        make_store(tmp_path / "s.db", threads=False) as store,
        serving(store, options=OPTIONS) as queue,
    ):
        assert queue.put_nowait("a")
        await store.flush()
        stale = await Taker().take(queue)
        stale.save_state(b"stale", key)
        queue.close()
        queue.reopen()
        await trio.testing.wait_all_tasks_blocked()
        queue.settle(stale, MailboxEnding.HANDLED, None)
        await store.flush()
        (stats,) = await store.mailbox_statistics()
        assert stats.depth == (0 if acked else 1)
        assert await store.load_state("box") is None
        assert await store.load_state("elsewhere") == (b"stale" if acked else None)
        await Taker().handle(queue)  # the current generation's delivery of it
        await store.flush()
        (stats,) = await store.mailbox_statistics()
        assert stats.depth == queue.depth == 0


async def test_a_message_a_stale_ack_counted_out_is_not_fetched_again(tmp_path: Path) -> None:
    """A fetch that commits before that ack finds the message: it is not handed over."""
    options = Durable(capacity=10, prefetch=2, backoff=(10.0,))
    async with make_store(tmp_path / "s.db", threads=False) as store:
        held = HeldWrites(store)
        async with serving(held, options=options) as queue:  # type: ignore[arg-type]
            for text in "abxc":
                assert queue.put_nowait(text)
            await store.flush()
            taker = Taker()
            for _ in "ab":
                await taker.fail(queue, Retry(after=10.0))
            stale = await taker.take(queue)
            assert stale.message == "x"
            queue.close()
            await trio.sleep(20)  # a and b are due again: the reopened window holds them
            queue.reopen()
            await trio.testing.wait_all_tasks_blocked()
            a, b = await taker.take(queue), await taker.take(queue)
            assert (a.message, b.message) == ("a", "b")
            held.hold = True
            queue.settle(stale, MailboxEnding.HANDLED, None)
            queue.settle(a, MailboxEnding.HANDLED, None)  # room: the next window is fetched
            await trio.testing.wait_all_tasks_blocked()
            assert [d.message for d in queue.items] == ["c"]  # type: ignore[attr-defined]
            held.release()
            await store.flush()
            (stats,) = await store.mailbox_statistics()
            assert stats.depth == queue.depth == 2


async def test_a_message_a_stale_ack_counted_out_is_not_read_back_by_its_timer(
    tmp_path: Path,
) -> None:
    """Delayed at the opening, then acked by the stale delivery: its timer hands nothing over."""
    options = Durable(capacity=3, backoff=(10.0,))
    async with make_store(tmp_path / "s.db", threads=False) as store:
        held = HeldWrites(store)
        async with serving(held, options=options) as queue:  # type: ignore[arg-type]
            assert queue.put_nowait("a")
            await store.flush()
            first = await Taker().take(queue)
            queue.close()
            queue.reopen()
            await trio.testing.wait_all_tasks_blocked()
            await Taker().fail(queue, ValueError("boom"))  # delayed for 10 s
            await store.flush()
            queue.close()
            queue.reopen()
            await trio.testing.wait_all_tasks_blocked()
            held.hold = True
            queue.settle(first, MailboxEnding.HANDLED, None)
            await trio.sleep(20)  # the timer reads it back before the ack commits
            assert not queue.items
            held.release()
            await store.flush()
            (stats,) = await store.mailbox_statistics()
            assert stats.depth == queue.depth == 0
