"""Batches dropped for a node gone, queued after a request, do not count as the request written.

A watch request's timer starts once what the outbox held when it was queued
has left it (``handed_on``). Batches queued after it for a node that then
left are taken off the queue; they counted towards that, so the timer could
start, and then expire, while the request itself was still unwritten.

Web's writes go through a relay that holds them, and that can send web a
PONG of its own: web's waits for the server (flushes) end without the
server reading anything. The clock stands still unless the test jumps it.
"""

from __future__ import annotations

import trio
import trio.testing
from remote_support import Note, Seen, Watched, Watcher, WatchIt
from test_remote_review6_watch_behind_backlog import settle
from test_remote_review_notices import watched
from test_review26b_lost_in_outbox import (
    GHOST,
    InjectingRelay,
    bank_and_ghost,
    fill_write_buffer,
)

import trouper
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.testing import NatsServer

GHOST2 = "ab" * 8
"""The incarnation of node "ghost2", which the same bare client beats for."""


async def test_a_watch_is_not_timed_out_while_its_request_waits_behind_batches_dropped_after_it(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """Ghost2's tell queued after the request is dropped as ghost2 leaves: the request still
    waits, so its four intervals have not started; bank answers once it reads it."""
    url = cluster_server.url
    seen: list[object] = []
    relay = InjectingRelay(url)
    async with bank_and_ghost(url, prefix, relay) as (_, relayed, bank, ghost, _notes):
        near = Nats(relayed, prefix=prefix, heartbeat=1.0)
        async with trouper.open_runtime(node="web", transport=near) as web:
            cluster = cluster_of(web)
            watcher = await web.spawn(Watcher)
            report = await web.spawn(Seen, seen)
            await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["up", GHOST, 1.0]))
            await ghost.publish(f"{prefix}.heartbeat.ghost2", pack(["up", GHOST2, 1.0]))
            await settle(lambda: cluster.nodes() == ("bank", "ghost", "ghost2", "web"))
            relay.hold()
            try:  # (released whatever happens: leaving would wait for the server forever)
                await fill_write_buffer(web, ghost, prefix)
                await watcher.tell(WatchIt(web.remote("bank", "acct"), report))
                await trio.testing.wait_all_tasks_blocked(0.2)  # the request waits its turn
                assert await web.remote("ghost2", "sink").tell(Note("dropped"))
                await ghost.publish(f"{prefix}.heartbeat.ghost2", pack(["bye", GHOST2]))
                await settle(lambda: "ghost2" not in cluster.nodes())
                # Web's two waits for the server end (its outbox's and the request's
                # handed_on); the request is still behind the full write buffer.
                await relay.inject(b"PONG\r\nPONG\r\n")
                await trio.testing.wait_all_tasks_blocked(0.2)
                mock_clock.jump(10)  # past the watch's deadline (4 s: 4 of bank's intervals)
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert seen == []
            finally:
                relay.release()
            await settle(lambda: watched(bank, "acct"))
            acct = bank.lookup("acct")
            assert acct is not None
            await bank.stop(acct)
            await settle(lambda: len(seen) == 1)
    assert seen == [Watched("/acct", "bank", "")]
