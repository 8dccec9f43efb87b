"""A dedup_window longer than JetStream's duplicate_window can hold (int64 nanoseconds)."""

from __future__ import annotations

import pytest
from js_support import Job, JobSink, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_dedup_window_beyond_292_years_is_refused_at_spawn_and_the_store_goes_on(
    js_server: NatsServer, prefix: str
) -> None:
    """dedup_window=1e12 is a ValueError at spawn; the store still serves other mailboxes."""
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        with pytest.raises(
            ValueError,
            match=(
                r"^the durable mailbox 'far' asks for dedup_window=1000000000000\.0: "
                r"the longest a store that delivers itself keeps ids is 9223372036 s "
                r"\(JetStream's duplicate_window, int64 nanoseconds: about 292 years\)$"
            ),
        ):
            await rt.spawn(JobSink, [], name="far", mailbox=Durable(dedup_window=1e12))
        await rt.spawn(JobSink, got, name="near", mailbox=Durable())
        await durable_ref(rt, "near").tell(Job(1))
        await eventually(lambda: got)
    assert got == [1]


async def test_the_longest_dedup_window_the_server_holds_is_taken(
    js_server: NatsServer, prefix: str
) -> None:
    """dedup_window=9e9 s (about 285 years) fits int64 nanoseconds: the mailbox opens."""
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(JobSink, got, name="far", mailbox=Durable(dedup_window=9e9))
        await durable_ref(rt, "far").tell(Job(1))
        await eventually(lambda: got)
    assert got == [1]
