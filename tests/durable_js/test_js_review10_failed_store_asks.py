"""Review: once the JetStream store failed, an ask whose message no handler started gets it.

docs/durable.md guarantee 4, as the SQLite queue keeps it
(tests/durable/test_queue_review9_failed_store_asks.py): nothing will deliver
the message again in this process, so its asker must not wait for a stop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import outcome
import pytest
import trio
import trio.testing
from js_support import Job, Taker

from trouper.codec import Codec
from trouper.durable import Durable, JetStreamStore, Retry, ServedQueue
from trouper.errors import StoreFailed
from trouper.nats import Client, connect
from trouper.runtime.lowlevel import Ask, MailboxEnding
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

CLOSED = r"the connection closed: the client is closed"


@asynccontextmanager
async def client_store(url: str, prefix: str) -> AsyncIterator[tuple[Client, JetStreamStore]]:
    """A store on a client of the test's own (closed to fail the store), with test-sized timings."""
    async with connect(url, allow_reconnect=False) as client:
        store = JetStreamStore(
            client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
        )
        async with store:
            yield client, store


async def put_and_flush(store: JetStreamStore, queue: ServedQueue) -> None:
    """Put a job in ``queue`` and wait until ``store`` has it."""
    queue.put_nowait(Job(99))
    await store.flush()


async def fail(client: Client, store: JetStreamStore, queue: ServedQueue) -> None:
    """Close ``client`` and have ``store`` find out: it fails (and tells its listeners)."""
    await client.close()
    with pytest.raises(StoreFailed, match=CLOSED):
        await put_and_flush(store, queue)
    await trio.testing.wait_all_tasks_blocked()


def failure(replies: list[outcome.Outcome[object]]) -> None:
    """``replies`` is one reply: the store's failure."""
    (reply,) = replies
    with pytest.raises(StoreFailed, match=CLOSED):
        reply.unwrap()


@pytest.mark.parametrize("case", ["beyond-the-window", "waiting-out-a-retry"])
async def test_an_ask_whose_message_waits_gets_the_stores_failure_at_once(
    js_server: NatsServer, prefix: str, case: str
) -> None:
    """An ask in the stream beyond the prefetch window, or nacked by ``Retry``, gets the failure.

    Only the asks of prefetched deliveries did: these stayed in the queue's
    table of asks, answered by no one until the actor stopped.
    """
    replies: list[outcome.Outcome[object]] = []
    async with client_store(js_server.url, prefix) as (client, store):
        queue = ServedQueue(store, "jobs", Codec(), Durable(prefetch=1))
        async with trio.open_nursery() as nursery:
            await nursery.start(queue.serve)
            taker = Taker()
            if case == "beyond-the-window":
                assert queue.put_nowait(Job(1))
                await store.flush()
                await taker.take(queue)  # being handled: the window's one place
                assert queue.put_nowait(Ask(Job(2), replies.append))
                await store.flush()
            else:
                assert queue.put_nowait(Ask(Job(2), replies.append))
                await store.flush()
                retried = await taker.take(queue)
                assert queue.settle(retried, MailboxEnding.FAILED, Retry(after=60.0))
                await store.flush()
            await trio.testing.wait_all_tasks_blocked()
            assert replies == []
            assert not queue.items
            await fail(client, store, queue)
            failure(replies)
            nursery.cancel_scope.cancel()  # serve idles once the store failed


async def test_an_ask_put_as_a_system_message_gets_its_commits_failure(
    js_server: NatsServer, prefix: str
) -> None:
    """``put_system`` with an ask: the failed commit of its message answers the asker.

    As SQLite's ``put_system`` and every queue's ``put_nowait`` do: nobody
    else waits for that commit. (The queue is not served here, so no
    ``store_failed`` reaches it: only the batch can tell the asker.)
    """
    replies: list[outcome.Outcome[object]] = []
    async with client_store(js_server.url, prefix) as (client, store):
        queue = ServedQueue(store, "jobs", Codec(), Durable())
        queue.put_system(Ask(Job(1), replies.append))
        await fail(client, store, queue)
    failure(replies)
