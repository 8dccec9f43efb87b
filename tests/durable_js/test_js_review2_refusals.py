"""Review: a publish the server refuses for good fails at once; a full mailbox is waited out."""

from __future__ import annotations

import pytest
import trio
from js_support import Done, Job, store_for

import trouper
from trouper.durable import durable_ref
from trouper.errors import StoreFailed
from trouper.nats import DiscardPolicy, RetentionPolicy, StreamConfig
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_tell_larger_than_its_streams_max_msg_size_is_refused_not_waited_on(
    js_server: NatsServer, prefix: str
) -> None:
    """The stream's ``max_msg_size`` refuses the message: its tell raises, naming that refusal.

    Any refusal whose text held "maximum" was taken for a full mailbox, so
    "message size exceeds maximum allowed" was sent again for ever: the tell
    never returned, nor did ``flush``.
    """
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        subject = store.subject("jobs")
        await store.client.jetstream().add_stream(
            StreamConfig(
                store.stream_name("jobs"),
                subjects=[subject, subject + ".>"],
                retention=RetentionPolicy.WORK_QUEUE,
                discard=DiscardPolicy.NEW,
                max_msg_size=200,
            )
        )
        ref = durable_ref(rt, "jobs")
        with trio.fail_after(5):
            await ref.tell(Job(1))
            with pytest.raises(
                StoreFailed, match=r"\(10054\): message size exceeds maximum allowed"
            ):
                await ref.tell(Done(1, "x" * 500))
            await rt.store.flush()
        assert not rt.store.statistics().failed  # one publish was refused, not the store
        (stats,) = await rt.store.mailbox_statistics()
    assert stats.depth == 1


async def test_a_refused_publish_is_logged_as_refused_not_as_the_stores_failure(
    js_server: NatsServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The log says one write was refused and the store goes on; it said the store had failed.

    "store ... failed: ...; it accepts no more writes" sent whoever read the
    log after a store that was in fact still writing.
    """
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        ref = durable_ref(rt, "jobs")
        with pytest.raises(StoreFailed):
            await ref.tell(Done(1, "x" * 2_000_000))  # over the server's max_payload
        await ref.tell(Job(1))
    (record,) = [r for r in caplog.records if r.name == "trouper" and r.levelname == "ERROR"]
    assert record.getMessage().startswith(f"durable store {js_server.url}: a write was refused ")
    assert "accepts no more writes" not in record.getMessage()
