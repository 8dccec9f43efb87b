"""Review: every message a host holds is kept alive (+WPI), however full its write buffer."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, JetStreamStore, durable_ref
from trouper.nats import connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

ACK_WAIT = 1.0


class Slow(trouper.Actor):
    """Records ``(who, n, attempt)`` as each job starts; each takes ``seconds``."""

    def __init__(self, who: str, runs: list[tuple[str, int, int]], seconds: float) -> None:
        self.who = who
        self.runs = runs
        self.seconds = seconds

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.runs.append((self.who, message.n, delivery.attempt))
        await trio.sleep(self.seconds)


async def test_messages_waiting_in_the_prefetch_are_kept_alive_past_a_full_write_buffer(
    js_server: NatsServer, prefix: str
) -> None:
    """A write buffer over its bound does not stop the +WPI of the messages held after the first.

    The host's first message runs past ack_wait while the others wait in its
    prefetch window: none of them may go to the other host meanwhile.
    """
    runs: list[tuple[str, int, int]] = []
    options = Durable(prefetch=8)
    async with connect(js_server.url, write_buffer_size=1) as client:
        store = JetStreamStore(
            client=client, prefix=prefix, ack_wait=ACK_WAIT, poll_expires=2.0, heartbeat=0.5
        )
        async with trouper.open_runtime(store=store) as one:
            await one.spawn(Slow, "one", runs, 3 * ACK_WAIT, name="jobs", mailbox=options)
            for n in range(3):
                await durable_ref(one, "jobs").tell(Job(n))
            await eventually(lambda: runs)
            other = store_for(js_server.url, prefix, ack_wait=ACK_WAIT)
            async with trouper.open_runtime(store=other) as two:
                await two.spawn(Slow, "two", runs, 0.0, name="jobs", mailbox=options)
                await trio.sleep(2.5 * ACK_WAIT)  # a message not kept alive has moved by now
            hosts = {who for who, _, _ in runs}
    assert hosts == {"one"}
