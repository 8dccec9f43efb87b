"""Review: what a stopped durable actor on JetStream held comes back with its count intact."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper import Supervisor
from trouper.durable import Delivery, Durable, durable_ref
from trouper.runtime import RestartChild
from trouper.supervision import ChildSpec
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Blocker(trouper.Actor):
    """Records ``(n, attempt)``; job 0 waits for ``release`` (holding the rest in the prefetch)."""

    def __init__(self, seen: list[tuple[int, int]], release: trio.Event | None) -> None:
        self.seen = seen
        self.release = release

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.seen.append((message.n, delivery.attempt))
        if message.n == 0 and self.release is not None:
            await self.release.wait()


async def test_messages_given_back_by_a_stopped_actor_are_not_charged_deliveries(
    js_server: NatsServer, prefix: str
) -> None:
    """A stopped actor's prefetched messages go back once each, and run in its next start.

    Its pull request is still at the server after it stopped: each message it
    gives back must not be delivered to it again and again (every delivery is
    counted: a few hundred bounces used up ``max_deliveries`` and the messages
    were dead-lettered without running).
    """
    seen: list[tuple[int, int]] = []
    options = Durable(max_deliveries=5)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(
            Blocker, seen, trio.Event(), name="jobs", mailbox=options, shutdown=0.2
        )
        for n in range(4):
            await ref.tell(Job(n))
        await eventually(lambda: seen)
        await rt.stop(ref)
        await trio.sleep(0.5)  # the server's time to bounce what was given back
    seen.clear()
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Blocker, seen, None, name="jobs", mailbox=options)
        await eventually(lambda: len(seen) >= 3, seconds=10.0)
        dead = [record async for record in rt.store.dead_letters("jobs")]
    assert dead == []
    assert {n for n, _ in seen} >= {1, 2, 3}
    assert max(attempt for _, attempt in seen) <= 3


async def test_a_stopped_child_started_again_gets_its_messages(
    js_server: NatsServer, prefix: str
) -> None:
    """A durable spec child stopped and started again by its supervisor serves its mailbox again."""
    seen: list[tuple[int, int]] = []
    spec = ChildSpec("jobs", Blocker, (seen, None), name="jobs", mailbox=Durable())
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        supervisor = await rt.spawn(Supervisor, [spec], name="sup")
        await durable_ref(rt, "jobs").tell(Job(1))
        await eventually(lambda: len(seen) == 1)
        await supervisor.ask(RestartChild("jobs"))
        await durable_ref(rt, "jobs").tell(Job(2))
        await eventually(lambda: len(seen) == 2, seconds=5.0)
    assert seen == [(1, 1), (2, 1)]
