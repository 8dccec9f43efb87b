"""A reopened queue, reviewed: a sender that waited on the old count is let in once it is known."""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Taker, make_store, serving

from trouper.durable import Durable
from trouper.runtime.lowlevel import MailboxEnding


async def test_a_put_parked_on_a_reopened_queue_gets_in_once_the_opening_finds_room(
    tmp_path: Path,
) -> None:
    """The opening's count frees the room the old count held: the waiting put is stored."""
    options = Durable(capacity=1)
    async with make_store(tmp_path / "s.db") as store, serving(store, options=options) as queue:
        assert await queue.put("a")
        taken = await Taker().take(queue)
        queue.close()
        queue.settle(taken, MailboxEnding.HANDLED, None)  # acked: the mailbox is empty
        await store.flush()
        queue.reopen()
        with trio.fail_after(10):
            assert await queue.put("b")
            assert (await Taker().handle(queue)).message == "b"
