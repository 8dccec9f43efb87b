"""After the store failed, ``Retry`` and ``GiveUp`` are still decisions, not failures."""

from __future__ import annotations

from pathlib import Path

import outcome
import pytest
import trio
from durable_support import Charge, Taker, make_store, serving, sqlite

import trouper
from trouper.durable import Durable, GiveUp, Retry
from trouper.errors import StoreFailed
from trouper.runtime.lowlevel import Ask, MailboxEnding


@pytest.mark.parametrize(
    ("error", "absorbed"),
    [(Retry(after=1.0), True), (GiveUp("no"), True), (ValueError("boom"), False)],
    ids=["retry", "give-up", "error"],
)
async def test_a_retry_after_the_store_failed_is_absorbed_and_its_ask_gets_the_failure(
    tmp_path: Path, error: BaseException, absorbed: bool
) -> None:
    """Nothing can be recorded, yet only an error is a failure; a waiting ask is answered."""
    replies: list[outcome.Outcome[object]] = []
    async with make_store(tmp_path / "s.db", max_size=65536) as store, serving(store) as queue:
        assert queue.put_nowait(Ask("a", replies.append))
        await store.flush()
        delivery = await Taker().take(queue)
        assert queue.put_nowait("x" * 200_000)  # beyond max_size: the commit fails
        with pytest.raises(StoreFailed):
            await store.flush()
        assert queue.settle(delivery, MailboxEnding.FAILED, error) is absorbed
    if absorbed:
        (reply,) = replies
        with pytest.raises(StoreFailed, match=r"database or disk is full"):
            reply.unwrap()
    else:
        assert replies == []  # the cell answers it with HandlerError


class RetriesOnceTheStoreFailed(trouper.Actor):
    """Waits until the store failed (``failed`` is set), then asks for a retry."""

    def __init__(self, failed: trio.Event, starts: list[int]) -> None:
        self.failed = failed
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(len(self.starts) + 1)

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.failed.wait()
        raise Retry(after=1.0)


async def test_a_handler_that_retries_once_the_store_failed_is_not_restarted(
    tmp_path: Path,
) -> None:
    """The runtime fails with the store; the actor is not charged a failure nor restarted."""
    failed = trio.Event()
    starts: list[int] = []
    failures: list[trouper.ActorEvent] = []

    async def body() -> None:
        async with trouper.open_runtime(store=sqlite(tmp_path / "s.db", max_size=65536)) as rt:
            rt.events.listen(failures.append, kinds=[trouper.EventKind.FAILED])
            ref = await rt.spawn(
                RetriesOnceTheStoreFailed, failed, starts, name="r", mailbox=Durable()
            )
            await ref.tell(Charge("a", 1))
            try:
                await ref.tell(Charge("x" * 200_000, 2))  # beyond max_size: the commit fails
            finally:
                failed.set()

    with pytest.raises(StoreFailed, match=r"database or disk is full"):
        await body()
    assert starts == [1]
    assert failures == []
