"""Review: a host asking a lower capacity than its mailbox's stream has deletes no message."""

from __future__ import annotations

import pytest
from js_support import Job, JobSink, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_lower_capacity_keeps_the_messages_stored_beyond_it(
    js_server: NatsServer, prefix: str
) -> None:
    """Fifty stored under a capacity of 1000; a host opens it with 10: all fifty are handled.

    The host's options updated the stream's ``max_msgs_per_subject`` to 10,
    and the server applies a lowered limit to what it holds: it deleted the
    40 oldest messages, told and stored, without a word. The stream keeps
    its capacity until a host opens the mailbox drained.
    """
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        jobs = durable_ref(rt, "jobs", options=Durable(capacity=1000))
        for n in range(50):
            await jobs.tell(Job(n))
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable(capacity=10))
        await eventually(lambda: len(got) >= 50)
        assert got == list(range(50))

    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:

        async def drained() -> bool:
            return all(box.depth == 0 for box in await rt.store.mailbox_statistics())

        await eventually(drained)  # the acks of the last run applied
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable(capacity=10))
        config = (await store.client.jetstream().stream_info(store.stream_name("jobs"))).config
    assert config.max_msgs_per_subject == 10
