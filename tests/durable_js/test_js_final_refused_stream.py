"""Final review: a mailbox's stream the server refuses to make, from the store's retrier.

A tell to a mailbox nobody opened finds no stream: the retrier makes it,
then sends the tell again. A refusal of that making fails the tell's batch
(``StoreRefused``) and the store goes on, as when it opens the mailbox for
a host; a refused publish (permissions), which the retrier did not take
for one, ended its task and with it the store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from trouper.durable import Append, JetStreamStore, WriteBatch
from trouper.errors import StoreRefused
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

PREFIX = "perm"

CONFIG = f"""
authorization {{
  users: [{{
    user: u, password: p,
    permissions: {{publish: {{deny: ["$JS.API.STREAM.CREATE.{PREFIX}_mailbox_late"]}}}}
  }}]
}}
"""


@pytest.fixture
def server() -> Iterator[NatsServer]:
    """A JetStream server on which this user may not make the mailbox 'late''s stream."""
    with NatsServer(config=CONFIG) as server:
        yield server


async def test_a_refused_stream_fails_the_batch_and_the_store_goes_on(server: NatsServer) -> None:
    """The tell's batch raises ``StoreRefused``; a later batch is stored."""
    url = f"nats://u:p@127.0.0.1:{server.port}"
    store = JetStreamStore(url, prefix=PREFIX, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5)
    async with store:
        refused = WriteBatch()
        refused.appends.append(Append("late", "js-test.job", b"{}", None, None, False, None))
        store.stage(refused)
        with trio.fail_after(10), pytest.raises(StoreRefused, match="Permissions Violation"):
            await store.durable(refused)
        stored = WriteBatch()
        stored.save_state("k", b"1")
        store.stage(stored)
        with trio.fail_after(10):
            await store.durable(stored)
