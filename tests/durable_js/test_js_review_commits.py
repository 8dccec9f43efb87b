"""Review: a handled message's outputs on JetStream are stored with its run, or not at all."""

from __future__ import annotations

import pytest
from js_support import Done, Job, Sink, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class TwoSends(trouper.Actor):
    """Sends a small ``Done`` then, on its first attempt, one larger than the server takes."""

    def __init__(self, sink: trouper.ActorRef[object], attempts: list[int]) -> None:
        self.sink = sink
        self.attempts = attempts

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.attempts.append(delivery.attempt)
        await self.sink.tell(Done(message.n, f"run {delivery.attempt}"))
        size = 2_000_000 if delivery.attempt == 1 else 10  # the server's max_payload: 1 MiB
        await self.sink.tell(Done(message.n, "x" * size))


async def test_a_refused_run_stores_none_of_its_sends_not_even_those_before_the_refused_one(
    js_server: NatsServer, prefix: str
) -> None:
    """A send too large refuses the whole run: the sends made before it are not stored either.

    Otherwise the sink handles a send of a run that never committed, and the
    next run's send with the same dedup key is dropped as its copy.
    """
    got: list[Done] = []
    attempts: list[int] = []
    options = Durable(prefetch=1, backoff=(0.05,))
    async with trouper.open_runtime(store=store_for(js_server.url, prefix, ack_wait=1.0)) as rt:
        sink = await rt.spawn(Sink, got, name="sink", mailbox=Durable())
        await rt.spawn(TwoSends, sink, attempts, name="jobs", mailbox=options)
        await durable_ref(rt, "jobs").tell(Job(7))
        await eventually(lambda: len(got) >= 2)
        await rt.store.flush()
    assert attempts == [1, 2]
    assert got == [Done(7, "run 2"), Done(7, "x" * 10)]
