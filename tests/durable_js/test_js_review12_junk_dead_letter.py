"""Review: a record on the dead-letter stream that trouper did not write is listed, not fatal."""

from __future__ import annotations

import pytest
from js_support import JobSink, dead_letters, store_for

import trouper
from trouper.durable import Durable, JetStreamStore
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_junk_on_the_dead_letter_subject_is_listed_and_discarded(
    js_server: NatsServer, prefix: str
) -> None:
    """``dead_letters`` lists another publisher's junk with why it is unreadable.

    It raised (the record's JSON could not be read), so one stray publish on
    ``<prefix>.dead.<mailbox>`` made ``dead_letters``, ``redrive`` and
    ``discard`` fail for every dead letter of the store.
    """
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn(JobSink, [], name="jobs", mailbox=Durable())
        assert isinstance(rt.store, JetStreamStore)
        await rt.store.client.jetstream().publish(f"{prefix}.dead.jobs", b"not a record")
        (record,) = await dead_letters(rt, "jobs")
        assert record.reason.startswith("unreadable dead-letter record (")
        assert (record.mailbox, record.payload, record.message) == ("jobs", b"not a record", None)
        assert await rt.store.discard("jobs") == 1
        assert await dead_letters(rt, "jobs") == []
