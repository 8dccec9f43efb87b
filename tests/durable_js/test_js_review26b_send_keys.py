"""Review 26b: a handler's send from a message of a remade mailbox stream is stored, not lost.

A durable handler's send carried the dedup key ``<mailbox>/<sequence>/<n>``,
so that every run of the handler for one message stores it once. A mailbox's
stream deleted and made again (an operator's reset) numbers its messages from
1 again: the first send of its first message, within the target's dedup
window of the old stream's first message's send, was dropped as its copy and
the message acked: lost. The key now holds the message's stored time too,
the same on every delivery of one message.
"""

from __future__ import annotations

import pytest
from js_support import Done, Job, Sink, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Forwarder(trouper.Actor):
    """Forwards each job to ``sink`` as a ``Done``."""

    def __init__(self, sink: trouper.ActorRef[object]) -> None:
        self.sink = sink

    @trouper.handler
    async def job(self, message: Job) -> None:
        await self.sink.tell(Done(message.n, "fw"))


async def test_a_send_of_the_first_message_of_a_remade_mailbox_stream_is_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """Both messages numbered 1, of the old stream and of the new one, reach the sink."""
    store = store_for(js_server.url, prefix)
    got: list[Done] = []
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn(Sink, got, name="sink", mailbox=Durable())
        sink = durable_ref(rt, "sink")
        forwarder = await rt.spawn(Forwarder, sink, name="fw", mailbox=Durable())
        await forwarder.tell(Job(1))
        await eventually(lambda: len(got) == 1)
        await rt.stop(forwarder)
        await store.client.jetstream().delete_stream(store.stream_name("fw"))
        forwarder = await rt.spawn(Forwarder, sink, name="fw", mailbox=Durable())
        await forwarder.tell(Job(2))
        await eventually(lambda: len(got) == 2, seconds=5.0)
        assert got == [Done(1, "fw"), Done(2, "fw")]
