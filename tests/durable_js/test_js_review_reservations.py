"""Review: a tell the server refuses gives back the room it reserved in the mailbox."""

from __future__ import annotations

import pytest
import trio
from js_support import Done, Sink, eventually, store_for

import trouper
from trouper.durable import Durable
from trouper.errors import StoreFailed
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_refused_tells_do_not_use_up_the_mailbox_capacity(
    js_server: NatsServer, prefix: str
) -> None:
    """Tells refused as too large leave the mailbox's room as it was: later tells go in."""
    got: list[Done] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        sink = await rt.spawn(Sink, got, name="sink", mailbox=Durable(capacity=2))
        for _ in range(2):  # as many as its capacity
            with pytest.raises(StoreFailed, match="max_payload"):
                await sink.tell(Done(0, "x" * 2_000_000))  # the server's max_payload: 1 MiB
        with trio.fail_after(5):
            await sink.tell(Done(1, "ok"))
        await eventually(lambda: got)
    assert got == [Done(1, "ok")]
