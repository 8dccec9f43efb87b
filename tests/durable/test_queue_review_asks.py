"""Every ask put in a durable mailbox gets one answer while its actor lives."""

from __future__ import annotations

from pathlib import Path

import outcome
import pytest
import trio
from durable_support import Charge, Taker, make_store, serving, sqlite

import trouper
from trouper.durable import Delivery, Durable
from trouper.errors import HandlerError
from trouper.runtime.lowlevel import Ask


async def test_an_ask_whose_stored_message_does_not_decode_gets_the_codecs_error(
    tmp_path: Path,
) -> None:
    """Read back from the store and dead-lettered, the message's ask fails with the reason."""
    replies: list[outcome.Outcome[object]] = []
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, options=Durable(prefetch=1)) as queue,
    ):
        assert await queue.put("a")  # fills the window: what follows is read back from disk
        assert queue.put_nowait(Ask(b"unreadable", replies.append))
        await store.flush()
        await Taker().handle(queue)
        await trio.sleep(1)  # on virtual time: until the store and every task are idle
        (dead,) = [d async for d in store.dead_letters()]
    assert dead.payload == b"unreadable"
    (reply,) = replies
    with pytest.raises(ValueError, match=r"^no message type named 'broken'$"):
        reply.unwrap()


class FailsFirst(trouper.Actor):
    """Fails the first delivery of each charge, returns the attempt on a later one."""

    def __init__(self, runs: list[int]) -> None:
        self.runs = runs

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.runs.append(delivery.attempt)
        if delivery.attempt == 1:
            raise ValueError("not yet")
        return delivery.attempt


async def test_a_failed_delivery_answers_the_ask_and_its_redelivery_replies_to_no_one(
    tmp_path: Path,
) -> None:
    """The asker gets HandlerError from the failure; the message still runs again."""
    runs: list[int] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(FailsFirst, runs, name="f", mailbox=Durable(backoff=(2,)))
        with pytest.raises(HandlerError, match=r"not yet"):
            await ref.ask(Charge("a", 1))
        assert trio.current_time() == 0.0
        await trio.sleep(5)
    assert runs == [1, 2]
