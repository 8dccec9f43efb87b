"""Acks on JetStream commit in the order their handlers finished, whether or not they sent.

An ack without sends was staged in a batch of tells opened after the open batch
of acks with sends: a later handler's ack (with sends) committed before it, and
the state saved was the earlier handler's.
"""

from __future__ import annotations

import pytest
import trio
from js_support import Job, Taker, store_for

from trouper.codec import Codec
from trouper.durable import Durable, ServedQueue
from trouper.runtime.lowlevel import MailboxEnding
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_the_state_saved_is_the_last_handlers(js_server: NatsServer, prefix: str) -> None:
    async with store_for(js_server.url, prefix) as store:
        a = ServedQueue(store, "a", Codec(), Durable())
        x = ServedQueue(store, "x", Codec(), Durable())
        async with trio.open_nursery() as nursery:
            await nursery.start(a.serve)
            await nursery.start(x.serve)
            for n in range(3):
                assert a.put_nowait(Job(n))
            await store.flush()
            taker = Taker()
            ds = [await taker.take(a) for _ in range(3)]
            for n, d in enumerate(ds):
                if n != 1:
                    d.send(x, Job(10 + n))
                d.save_state(str(n).encode())
                a.settle(d, MailboxEnding.HANDLED, None)
            await store.flush()
            saved = await store.load_state("a")
            for q in (a, x):
                q.close()
                await q.aclose()
    assert saved == b"2"  # the last handler's state, not the one before it
