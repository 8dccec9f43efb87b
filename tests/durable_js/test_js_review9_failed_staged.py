"""Review: batches staged and not yet taken when the JetStream store fails."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trouper.durable import Append, JetStreamStore, WriteBatch
from trouper.errors import StoreFailed
from trouper.nats import connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

CLOSED = r"the connection closed: the client is closed"


def append(mailbox: str) -> Append:
    """A plain message for ``mailbox``."""
    return Append(mailbox, "js-test.job", b"{}", None, None, False, None)


async def test_waiting_for_a_staged_batch_the_failure_dropped_raises_the_failure(
    js_server: NatsServer, prefix: str
) -> None:
    """``durable(batch)`` for a batch staged, then dropped open by the store's failure, raises.

    The failure took the staged batches out of the store's list: no commit
    would ever take this one, and ``durable`` waited for ever (SQLite's raises).
    """
    async with connect(js_server.url, allow_reconnect=False) as client:
        store = JetStreamStore(
            client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
        )
        async with store:
            await trio.testing.wait_all_tasks_blocked()  # the store watches its client
            await client.close()  # the store has not noticed yet: no checkpoint since
            first, second = WriteBatch(), WriteBatch()
            first.appends.append(append("jobs"))
            store.stage(first)
            store.stage(second)
            # Publishing ``first`` finds the client closed: the store fails, ``second`` is dropped.
            with pytest.raises(StoreFailed, match=CLOSED):
                await store.durable(first)
            assert not second.sealed
            with trio.fail_after(5), pytest.raises(StoreFailed, match=CLOSED):
                await store.durable(second)


async def test_a_staged_batch_the_failure_dropped_runs_its_failure_callbacks(
    js_server: NatsServer, prefix: str
) -> None:
    """A batch dropped from the staged list by the store's failure hears of it (``after_failure``).

    Only batches already taken into a commit did: an ask staged by
    ``put_nowait`` (whose asker waits through such a callback) and not yet
    taken was never answered.
    """
    errors: list[BaseException] = []
    async with connect(js_server.url, allow_reconnect=False) as client:
        store = JetStreamStore(
            client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
        )
        async with store:
            await trio.testing.wait_all_tasks_blocked()
            await client.close()
            first, second = WriteBatch(), WriteBatch()
            first.appends.append(append("jobs"))
            second.appends.append(append("jobs"))
            second.after_failure(errors.append)
            store.stage(first)
            store.stage(second)
            with pytest.raises(StoreFailed, match=CLOSED):
                await store.durable(first)
    (error,) = errors
    with pytest.raises(StoreFailed, match=CLOSED):
        raise error
