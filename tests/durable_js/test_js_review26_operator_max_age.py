"""Review 26: a mailbox whose stream an operator gave a ``max_age`` opens again.

A host keeps an operator's ``max_age`` (docs/durable.md, "On JetStream") but
set the stream's ``duplicate_window`` to its ``dedup_window`` at each open;
the server refuses a window longer than ``max_age``, and a mailbox it
refuses fails the whole store: the next spawn (or restart) of the actor
stopped the runtime. The window is now cut to ``max_age``, with a warning.
"""

from __future__ import annotations

import logging

import attrs
import pytest
from js_support import Job, JobSink, eventually, store_for

import trouper
from trouper.durable import Durable
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_mailbox_given_a_max_age_shorter_than_its_dedup_window_opens_again(
    js_server: NatsServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Spawned again after ``max_age=60`` (default window 120 s): it opens and delivers."""
    got: list[int] = []
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        sink = await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        js = store.client.jetstream()
        stream = store.stream_name("jobs")
        config = (await js.stream_info(stream)).config
        # As an operator must: the server refuses a max_age under the window.
        await js.update_stream(attrs.evolve(config, max_age=60.0, duplicate_window=60.0))
        await rt.stop(sink)
        with caplog.at_level(logging.WARNING, logger="trouper"):
            sink = await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        await sink.tell(Job(1))

        async def handled() -> bool:
            return got == [1]

        await eventually(handled)
        assert not rt.store.statistics().failed
        kept = (await js.stream_info(stream)).config
        assert (kept.max_age, kept.duplicate_window) == (60.0, 60.0)
    assert any("keeps message ids for its max_age of 60.0 s" in r.message for r in caplog.records)
