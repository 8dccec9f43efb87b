"""Review 26: options the server cannot hold as given no longer fail the whole store.

``Durable`` takes a ``dedup_window`` of any seconds >= 0 and a ``capacity``
of any int >= 1. The server refuses a ``duplicate_window`` under 100 ms and
a ``max_msgs_per_subject`` beyond int64; a hosted mailbox's stream refused
failed the whole store (and stopped the runtime), and a ``durable_ref``'s
tell to a mailbox not made yet was refused. The stream now gets the nearest
value the server takes: a window of 100 ms, a capacity of 2**63 - 1.
"""

from __future__ import annotations

import pytest
from js_support import Job, JobSink, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

OPTIONS = [
    Durable(dedup_window=0),
    Durable(dedup_window=0.05),
    Durable(capacity=2**63),
    Durable(capacity=10**30),
]
IDS = ["window-0", "window-50ms", "capacity-2**63", "capacity-10**30"]


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
async def test_a_hosted_mailbox_with_options_beyond_the_servers_bounds_opens_and_delivers(
    js_server: NatsServer, prefix: str, options: Durable
) -> None:
    """The actor spawns, gets its messages, and the store has not failed."""
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        sink = await rt.spawn(JobSink, got, name="jobs", mailbox=options)
        await sink.tell(Job(1))

        async def handled() -> bool:
            return got == [1]

        await eventually(handled)
        assert not rt.store.statistics().failed


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
async def test_a_durable_ref_with_options_beyond_the_servers_bounds_makes_its_mailbox(
    js_server: NatsServer, prefix: str, options: Durable
) -> None:
    """A tell to a mailbox nobody opened yet is stored, and its actor gets it when it starts."""
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await durable_ref(rt, "jobs", options=options).tell(Job(1))
        await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())

        async def handled() -> bool:
            return got == [1]

        await eventually(handled)
