"""Publishes that waited for room in a full outbox keep numbers of their own.

A topic publish numbered itself before it waited for room: two publishes
waiting at once carried the same number, so the receiving node saw the
number after them skip one and counted a message lost that was not
(``statistics().lost``).
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Notes, nodes, wait_for
from test_remote_review_full_buffer import CHUNK, Chunk, paused

from trouper import Runtime
from trouper.remote import Nats, cluster_of
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_publishes_that_waited_for_room_together_count_nothing_lost(
    own_server: NatsServer, prefix: str
) -> None:
    """Every publish arrives and the receiver counts none lost."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    seen: list[object] = []
    published: list[str] = []
    filling = True

    async def fill(web: Runtime) -> None:
        while filling:
            await web.topics.publish("news.fill", Chunk(bytes(CHUNK)))
            published.append("fill")

    async def publish_one(web: Runtime) -> None:
        await web.topics.publish("news.one", Chunk(b"one"))
        published.append("one")

    async with nodes(transport, "bank", "web") as (bank, web):
        notes = await bank.spawn(Notes, seen)
        bank.topics.subscribe(notes, "news.>")
        await cluster_of(bank).flush()
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                with paused(own_server):
                    nursery.start_soon(fill, web)
                    await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                    nursery.start_soon(publish_one, web)
                    await trio.testing.wait_all_tasks_blocked(0.2)  # both wait for room
                    filling = False
            await web.topics.publish("news.last", Chunk(b"last"))
            await wait_for(lambda: len(seen) == len(published) + 1)
        assert cluster_of(bank).statistics().lost == 0
