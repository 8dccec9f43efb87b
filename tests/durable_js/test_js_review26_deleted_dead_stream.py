"""Review 26: ``mailbox_statistics`` with the dead-letter stream deleted by an operator.

``dead_letters``, ``redrive`` and ``discard`` read a deleted dead-letter
stream as empty, and the next dead letter makes it again; but
``mailbox_statistics`` raised the server's "stream not found" until then.
"""

from __future__ import annotations

import pytest
from js_support import JobSink, store_for

import trouper
from trouper.durable import Durable, MailboxStatistics
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_mailbox_statistics_count_no_dead_letters_once_their_stream_is_deleted(
    js_server: NatsServer, prefix: str
) -> None:
    """The mailboxes are listed, each with no dead letters."""
    got: list[int] = []
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        await store.client.jetstream().delete_stream(f"{prefix}_dead")
        assert await rt.store.mailbox_statistics() == [MailboxStatistics("jobs", 0, 0, 0, 0, 0)]
        assert [r async for r in rt.store.dead_letters()] == []
