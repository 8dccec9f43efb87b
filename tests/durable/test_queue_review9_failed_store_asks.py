"""Once the store failed, an ask waiting for a message no one will deliver gets the failure."""

from __future__ import annotations

from pathlib import Path

import outcome
import pytest
import trio
from durable_support import Charge, make_store, serving, sqlite

import trouper
from trouper.durable import Delivery, Durable, Retry
from trouper.errors import StoreFailed
from trouper.runtime.lowlevel import Ask


class Gated(trouper.Actor):
    """Holds charge ``first`` until ``go`` is set; retries charge ``r`` for a minute once."""

    def __init__(self, go: trio.Event) -> None:
        self.go = go

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        if message.order_id == "r" and delivery.attempt == 1:
            raise Retry(after=60.0)
        if message.order_id == "first":
            await self.go.wait()
        return message.total


class Asker(trouper.Actor):
    """Asks ``target`` for ``order_id`` when told it; records the answer and when it came."""

    def __init__(self, target: trouper.ActorRef[object], got: list[tuple[str, float]]) -> None:
        self.target = target
        self.got = got

    @trouper.handler
    async def ask(self, order_id: str) -> None:
        try:
            await self.target.ask(Charge(order_id, 2))
        except BaseException as error:  # Cancelled too: recorded, then raised again
            self.got.append((type(error).__name__, trio.current_time()))
            raise
        self.got.append(("reply", trio.current_time()))


@pytest.mark.parametrize(
    ("prefetch", "first", "order_id"),
    [(512, True, "b"), (1, True, "b"), (512, False, "r")],
    ids=["prefetched", "beyond-the-window", "waiting-out-a-retry"],
)
async def test_an_ask_whose_message_waits_gets_the_stores_failure_at_once(
    tmp_path: Path, prefetch: int, first: bool, order_id: str
) -> None:
    """The asker is answered StoreFailed when the store fails, not left to the shutdown."""
    go = trio.Event()
    got: list[tuple[str, float]] = []

    async def body() -> None:
        async with trouper.open_runtime(store=sqlite(tmp_path / "s.db", max_size=65536)) as rt:
            gated = await rt.spawn(Gated, go, name="gated", mailbox=Durable(prefetch=prefetch))
            if first:
                await gated.tell(Charge("first", 1))  # being handled until ``go``
            asker = await rt.spawn(Asker, gated, got)
            await asker.tell(order_id)
            for _ in range(2):  # the ask stored, then handled if the actor is free
                await trio.testing.wait_all_tasks_blocked()
                await rt.store.flush()
            assert got == []  # its message waits: in the window, on disk, or for its retry
            try:
                await gated.tell(Charge("x" * 200_000, 3))  # beyond max_size: the commit fails
            finally:
                go.set()

    with pytest.raises(StoreFailed, match=r"database or disk is full"):
        await body()
    assert got == [("StoreFailed", 0.0)]


async def test_an_ask_whose_append_fails_to_commit_gets_the_stores_failure(
    tmp_path: Path,
) -> None:
    """Staged with a message that fills the disk, the ask's own message is not stored."""
    replies: list[outcome.Outcome[object]] = []
    async with make_store(tmp_path / "s.db", max_size=65536) as store, serving(store) as queue:
        assert queue.put_nowait(Ask("a", replies.append))
        assert queue.put_nowait("x" * 200_000)  # in the same commit, which fails
        with pytest.raises(StoreFailed):
            await store.flush()
        await trio.testing.wait_all_tasks_blocked()
    (reply,) = replies
    with pytest.raises(StoreFailed, match=r"database or disk is full"):
        reply.unwrap()
