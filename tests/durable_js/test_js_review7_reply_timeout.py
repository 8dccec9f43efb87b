"""Review: a publish whose answer did not come within the client's ``reply_timeout`` is sent again.

``publish_soon`` reports ``ReplyTimeout`` when no answer came in time: the
message may or may not be stored, as after ``ConnectionLost``. The store took
it for a refusal: the tell raised ``StoreRefused``, whose text says nothing
of it was stored, although it might have been (and a sender that then told it
again stored it twice). It is sent again with the same key, as a publish
that found the server busy.
"""

from __future__ import annotations

import pytest
import trio
from js_support import Job, JobSink, eventually

import trouper
from trouper.durable import Durable, JetStreamStore, durable_ref
from trouper.nats import Msg, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_tell_whose_answer_timed_out_is_sent_again_and_stored_once(
    js_server: NatsServer, prefix: str
) -> None:
    """A subscriber that never answers takes the first publishes; once it is gone, it is stored."""
    swallowed: list[Msg] = []
    got: list[int] = []
    async with (
        connect(js_server.url) as other,
        connect(js_server.url, reply_timeout=0.2) as client,
    ):
        store = JetStreamStore(
            client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
        )
        async with trouper.open_runtime(store=store) as rt:
            # No stream takes the mailbox's subject yet: this subscriber alone hears a publish.
            silent = await other.subscribe(store.subject("jobs"), callback=swallowed.append)
            await other.flush()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(durable_ref(rt, "jobs").tell, Job(1))
                await eventually(lambda: len(swallowed) >= 2)  # sent again, not refused
                silent.unsubscribe_nowait()
                await other.flush()
            await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
            await eventually(lambda: got)
            await trio.sleep(0.3)  # a copy would have come by now
            assert not rt.store.statistics().failed
    assert got == [1]
