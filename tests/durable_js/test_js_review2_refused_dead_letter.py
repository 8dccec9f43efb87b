"""Review: a message whose runs the store keeps refusing is dead-lettered with that reason."""

from __future__ import annotations

import pytest
from js_support import Done, Job, Sink, dead_letters, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Oversender(trouper.Actor):
    """Each run sends the sink more than the server takes in one message."""

    def __init__(self, sink: trouper.ActorRef[object], attempts: list[int]) -> None:
        self.sink = sink
        self.attempts = attempts

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.attempts.append(delivery.attempt)
        await self.sink.tell(Done(message.n, "x" * 2_000_000))  # max_payload: 1 MiB


async def test_a_message_whose_runs_are_all_refused_is_dead_lettered_with_the_refusal(
    js_server: NatsServer, prefix: str
) -> None:
    """After ``max_deliveries`` refused runs the dead letter says the store refused them.

    It said "its handler never finished (the process stopped, or its ack did
    not come within ack_wait)": every run finished, and nothing stopped.
    """
    attempts: list[int] = []
    options = Durable(prefetch=1, backoff=(0.05,), max_deliveries=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix, ack_wait=1.0)) as rt:
        sink = await rt.spawn(Sink, [], name="sink", mailbox=Durable())
        await rt.spawn(Oversender, sink, attempts, name="jobs", mailbox=options)
        await durable_ref(rt, "jobs").tell(Job(7))
        await eventually(lambda: dead_letters(rt, "jobs"))
        (record,) = await dead_letters(rt, "jobs")
    assert attempts == [1, 2]
    assert record.message == Job(7)
    assert "never finished" not in record.reason
    assert "too large for a durable mailbox" in record.reason
