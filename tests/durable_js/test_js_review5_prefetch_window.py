"""Review: on JetStream, a handled message waiting for its ack still counts in the prefetch window.

Its lease is held until its outputs are stored and the ack is sent: a
process that dies meanwhile has it redelivered and charged. Pulling the next
message before that let a poison that kills its process charge the neighbour
handled just before it on every crash, until the neighbour was dead-lettered
as "its handler never finished" (test_js_poison.py, under load).
"""

from __future__ import annotations

import pytest
from js_support import Done, Job, Sink, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Ordered(trouper.Actor):
    """Notes when each job starts and when its ack's batch committed; sends a ``Done`` per job."""

    def __init__(self, sink: trouper.ActorRef[object], events: list[str]) -> None:
        self.sink = sink
        self.events = events

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.events.append(f"run {message.n}")
        await self.sink.tell(Done(message.n, str(delivery.attempt)))
        delivery.after_commit(lambda: self.events.append(f"committed {message.n}"))


async def test_with_prefetch_1_the_next_message_comes_only_once_the_last_ones_ack_is_sent(
    js_server: NatsServer, prefix: str
) -> None:
    """Prefetch 1 holds one message: the next runs after the last one's outputs and ack went out.

    The sink's stream is made by the first job's send (a publish that finds
    no stream, then the stream, then the publish again), so that commit takes
    several round trips while a pull takes one.
    """
    events: list[str] = []
    got: list[Done] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        jobs = durable_ref(rt, "jobs", options=Durable(prefetch=1))
        for n in range(3):
            await jobs.tell(Job(n))
        sink = durable_ref(rt, "sink")
        await rt.spawn(Ordered, sink, events, name="jobs", mailbox=Durable(prefetch=1))
        await eventually(lambda: len(events) == 6)
        await rt.spawn(Sink, got, name="sink", mailbox=Durable())
        await eventually(lambda: len(got) == 3)
    assert events == ["run 0", "committed 0", "run 1", "committed 1", "run 2", "committed 2"]
    assert sorted(got, key=lambda done: done.n) == [Done(n, "1") for n in range(3)]
