"""Deliveries of two closed generations, acked late, make the room of their message once."""

from __future__ import annotations

from pathlib import Path

import trio.testing
from durable_support import Taker, make_store, serving

from trouper.durable import Durable
from trouper.runtime.lowlevel import MailboxEnding


async def test_a_message_acked_by_two_stale_deliveries_makes_room_once(tmp_path: Path) -> None:
    """The second stale ack finds the row gone before the opening: it counts nothing out."""
    async with (
        make_store(tmp_path / "s.db", threads=False) as store,
        serving(store, options=Durable(capacity=1)) as queue,
    ):
        assert queue.put_nowait("m")
        await store.flush()
        taker = Taker()
        first = await taker.take(queue)
        queue.close()
        queue.reopen()
        second = await taker.take(queue)  # the reopened queue's delivery of it
        queue.settle(first, MailboxEnding.HANDLED, None)  # acked: the row goes
        await store.flush()
        queue.close()
        queue.reopen()  # its opening no longer counts the message
        await trio.testing.wait_all_tasks_blocked()
        queue.settle(second, MailboxEnding.HANDLED, None)
        await store.flush()
        assert queue.depth == 0
        assert queue.put_nowait("a")
        assert not queue.put_nowait("b")  # full at its capacity of one
        await store.flush()
        (stats,) = await store.mailbox_statistics()
        assert stats.depth == queue.depth == 1
