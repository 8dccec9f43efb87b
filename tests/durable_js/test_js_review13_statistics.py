"""Review: ``mailbox_statistics`` while an operator deletes mailboxes' streams.

It lists the streams, then reads each one's info and consumer: a stream
deleted between the listing and its read raised the server's "stream not
found", and the whole call failed for one mailbox that no longer exists.
"""

from __future__ import annotations

import pytest
import trio
from js_support import Job, store_for

import trouper
from trouper.durable import JetStreamStore, MailboxStatistics, durable_ref
from trouper.nats import connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

MAILBOXES = 20


async def test_statistics_leave_out_a_mailbox_deleted_while_they_are_read(
    js_server: NatsServer, prefix: str
) -> None:
    """Streams deleted while the statistics are read are left out; the call returns."""
    async with (
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt,
        connect(js_server.url) as operator,
    ):
        for n in range(MAILBOXES):
            await durable_ref(rt, f"box-{n}").tell(Job(n))
        store = rt.store
        assert isinstance(store, JetStreamStore)
        names = [store.stream_name(f"box-{n}") for n in range(1, MAILBOXES)]
        found: list[MailboxStatistics] = []

        async def read() -> None:
            found.extend(await store.mailbox_statistics())

        async def delete() -> None:
            for name in names:
                await operator.jetstream().delete_stream(name)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            nursery.start_soon(delete)
        assert "box-0" in {s.name for s in found}
