"""Review: opening a store leaves an operator's settings on the dead-letter and state streams.

docs/durable.md lets an operator put limits on ``<prefix>_dead`` (a
``discard: new`` limit, say); every store open replaced both streams'
configuration with trouper's defaults, so each runtime that started undid the
operator's limits, and a runtime with the default ``replicas=1`` took a
cluster's copies of dead letters and states down to one.
"""

from __future__ import annotations

import attrs
import pytest
from js_support import Job, JobSink, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.nats import DiscardPolicy, StreamConfig
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_store_opened_again_keeps_the_operators_limits_on_its_dead_and_state_streams(
    js_server: NatsServer, prefix: str
) -> None:
    """Limits set on the dead-letter and state streams survive the next store's open."""
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        await durable_ref(rt, "jobs").tell(Job(1))
        js = store.client.jetstream()
        dead = (await js.stream_info(f"{prefix}_dead")).config
        state = (await js.stream_info(f"{prefix}_state")).config
        await js.update_stream(
            attrs.evolve(dead, max_msgs=1000, max_age=86400.0, discard=DiscardPolicy.NEW)
        )
        await js.update_stream(attrs.evolve(state, max_bytes=1 << 20, description="ops"))
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store):
        js = store.client.jetstream()
        dead = (await js.stream_info(f"{prefix}_dead")).config
        state = (await js.stream_info(f"{prefix}_state")).config
    assert (dead.max_msgs, dead.max_age, dead.discard) == (1000, 86400.0, DiscardPolicy.NEW)
    assert (state.max_bytes, state.description) == (1 << 20, "ops")


class Idle(trouper.Actor):
    """Takes jobs and does nothing."""

    @trouper.handler
    async def job(self, message: Job) -> None:
        pass


async def test_a_host_opening_a_mailbox_applies_its_options_and_keeps_the_operators_limits(
    js_server: NatsServer, prefix: str
) -> None:
    """A host's options win on its mailbox's stream; settings trouper does not set stay.

    The stream's ``max_msg_size`` an operator lowered (docs/durable.md: "the
    server's to check") and its ``max_age`` went back to none whenever a host
    opened the mailbox.
    """
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        await durable_ref(rt, "jobs").tell(Job(1))
        js = store.client.jetstream()
        name = store.stream_name("jobs")
        config = (await js.stream_info(name)).config
        await js.update_stream(attrs.evolve(config, max_msg_size=4096, max_age=86400.0))
        await rt.spawn(Idle, name="jobs", mailbox=Durable(capacity=7, dedup_window=30.0))
        config = (await js.stream_info(name)).config
    assert (config.max_msgs_per_subject, config.duplicate_window) == (7, 30.0)
    assert (config.max_msg_size, config.max_age) == (4096, 86400.0)


async def test_an_update_of_a_stream_not_trouper_s_under_the_mailbox_names_leaves_the_store_working(
    js_server: NatsServer, prefix: str
) -> None:
    """An operator's stream named like a mailbox's (``<prefix>_mailbox_jobs_copy``) is let be.

    The store follows the server's advisories of stream updates and read the
    mailbox's name back from the stream's: ``jobs_copy`` is no name it
    escapes, and the error raised in the client's reader, which failed the
    connection and with it the store (and the runtime). ``mailbox_statistics``
    raised the same error for such a stream on a subject under the mailboxes'.
    """
    store = store_for(js_server.url, prefix)
    got: list[int] = []
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        js = store.client.jetstream()
        copy = StreamConfig(
            f"{prefix}_mailbox_jobs_copy", subjects=[f"{prefix}.mailbox.jobs_copy_x"]
        )
        await js.add_stream(copy)
        await js.update_stream(attrs.evolve(copy, max_msgs=10))
        ref = durable_ref(rt, "jobs")
        await ref.tell(Job(1))
        await eventually(lambda: got == [1])
        await ref.tell(Job(2))
        await eventually(lambda: got == [1, 2])
        assert not rt.store.statistics().failed
        assert [box.name for box in await rt.store.mailbox_statistics()] == ["jobs"]
