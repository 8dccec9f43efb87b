"""Every ask put in a durable mailbox gets an answer while its actor lives."""

from __future__ import annotations

from pathlib import Path

import outcome
import pytest
import trio
from durable_support import Taker, make_store, serving

from trouper.durable import Durable
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
