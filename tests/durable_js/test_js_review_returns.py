"""Review: messages a durable actor on JetStream gave back without running are not charged."""

from __future__ import annotations

from functools import partial

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Blocker(trouper.Actor):
    """Records ``(n, attempt)``; with ``release`` each job waits for it, the rest prefetched."""

    def __init__(self, seen: list[tuple[int, int]], release: trio.Event | None) -> None:
        self.seen = seen
        self.release = release

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.seen.append((message.n, delivery.attempt))
        if self.release is not None:
            await self.release.wait()


def ran_more_than(seen: list[tuple[int, int]], count: int) -> bool:
    """Whether more than ``count`` handler runs were seen."""
    return len(seen) > count


async def test_an_actor_stopped_often_does_not_dead_letter_messages_it_never_ran(
    js_server: NatsServer, prefix: str
) -> None:
    """Four stops with jobs waiting in the prefetch: none of them is charged a delivery.

    Every stop gives back what it had prefetched (a -NAK, which the server
    counts as a delivery); with ``max_deliveries=2`` the second stop used to
    dead-letter the jobs no handler had seen. As on SQLite, a message given
    back (or whose handler the stop interrupted) keeps its count.
    """
    seen: list[tuple[int, int]] = []
    options = Durable(max_deliveries=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(
            Blocker, seen, trio.Event(), name="jobs", mailbox=options, shutdown=0.2
        )
        for n in range(4):
            await ref.tell(Job(n))
        for stop in range(4):
            await eventually(partial(ran_more_than, seen, stop))  # one runs, the rest wait
            await rt.stop(ref)
            if stop < 3:
                ref = await rt.spawn(
                    Blocker, seen, trio.Event(), name="jobs", mailbox=options, shutdown=0.2
                )
        final: list[tuple[int, int]] = []
        await rt.spawn(Blocker, final, None, name="jobs", mailbox=options)
        await eventually(lambda: len(final) >= 4, seconds=10.0)
        dead = [record async for record in rt.store.dead_letters("jobs")]
    assert dead == []
    assert sorted(final) == [(0, 1), (1, 1), (2, 1), (3, 1)]
    assert {attempt for _, attempt in seen} == {1}
