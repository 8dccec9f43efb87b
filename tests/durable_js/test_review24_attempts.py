"""Review 24: on JetStream, a delivery's attempt is never below 1.

A message given back uncharged (its actor stopped while it was prefetched)
is remembered, so that the server's next delivery of it, counted there, is
not a new attempt here. When the mailbox's consumer was made again meanwhile
(deleted by an operator, or lost with a server's state), the server counted
from 1 again, and the message ran with ``ctx.delivery.attempt == 0``.
"""

from __future__ import annotations

import pytest
import trio
from js_support import Job, dead_letters, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, Retry, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock  # the server is another process


class Recorder(trouper.Actor):
    """Records each job's number and attempt; with a gate, the first job waits for it."""

    def __init__(self, got: list[tuple[int, int]], gate: trio.Event | None) -> None:
        self.got = got
        self.gate = gate

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.got.append((message.n, delivery.attempt))
        if self.gate is not None:
            await self.gate.wait()


async def test_a_message_given_back_before_its_consumer_was_made_again_runs_as_attempt_1(
    js_server: NatsServer, prefix: str
) -> None:
    """Job(2), prefetched when its actor stopped, then delivered by a new consumer: attempt 1."""
    got: list[tuple[int, int]] = []
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        ref = durable_ref(rt, "box")
        await ref.tell(Job(1))
        await ref.tell(Job(2))
        actor = await rt.spawn(Recorder, got, trio.Event(), name="box", mailbox=Durable())
        await eventually(lambda: got == [(1, 1)])  # Job(1) waits, Job(2) is prefetched
        await rt.stop(actor)  # both are given back, uncharged
        await rt.store.flush()
        js = store.client.jetstream()
        await js.delete_consumer(store.stream_name("box"), "trouper")  # an operator's
        got.clear()
        await rt.spawn(Recorder, got, None, name="box", mailbox=Durable())
        await eventually(lambda: len(got) == 2)
    assert sorted(got) == [(1, 1), (2, 1)]


class RetryThenFail(trouper.Actor):
    """Asks for a retry in an hour on its first run, then fails every run; records attempts."""

    def __init__(self, got: list[tuple[int, int]]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        first = not self.got
        self.got.append((message.n, delivery.attempt))
        if first:
            raise Retry(after=3600.0)
        raise RuntimeError("fails")


async def test_a_retry_counted_by_a_consumer_made_again_since_is_no_spare_delivery(
    js_server: NatsServer, prefix: str
) -> None:
    """max_deliveries=1 after a Retry and a new consumer: one failed run, then a dead letter."""
    got: list[tuple[int, int]] = []
    store = store_for(js_server.url, prefix)
    options = Durable(max_deliveries=1, backoff=(0.05,))
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn(RetryThenFail, got, name="box", mailbox=options)
        await durable_ref(rt, "box").tell(Job(1))
        await eventually(lambda: got == [(1, 1)])  # nacked for an hour
        js = store.client.jetstream()
        await js.delete_consumer(store.stream_name("box"), "trouper")  # an operator's

        async def buried() -> bool:
            return bool(await dead_letters(rt, "box"))

        await eventually(buried)
    assert got == [(1, 1), (1, 1)]  # (its Retry was no failure, its new run is attempt 1)
