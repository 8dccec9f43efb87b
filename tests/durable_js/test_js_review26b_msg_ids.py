"""Review 26b: a msg_id a header would change is refused on JetStream, not delivered changed.

A msg_id travels in a header, whose value the client reads stripped: a tell
with ``msg_id=" x "`` was stored and delivered with ``ctx.delivery.msg_id``
``"x"`` (and deduplicated with ``"x"``'s), where SqliteStore keeps it as
given. Such an id (leading or trailing whitespace, or no UTF-8) is refused as
one with a line break was: by its tell, alone; a handler's send of one is
refused with its run's writes.
"""

from __future__ import annotations

import pytest
from js_support import Done, Job, Sink, dead_letters, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.errors import StoreRefused
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

WHITESPACE = "whose value loses leading and trailing whitespace"


class IdSink(trouper.Actor):
    """Collects each job's number and the msg_id it was delivered with."""

    def __init__(self, got: list[tuple[int, str | None]]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.got.append((message.n, delivery.msg_id))


@pytest.mark.parametrize("msg_id", [" x ", "x ", "\tx", "x\u00a0", "\udc80"])
async def test_a_msg_id_a_header_would_change_is_refused_by_its_tell(
    js_server: NatsServer, prefix: str, msg_id: str
) -> None:
    """The tell raises ``StoreRefused`` naming the problem; its neighbours keep their ids."""
    got: list[tuple[int, str | None]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        jobs = await rt.spawn(IdSink, got, name="jobs", mailbox=Durable())
        jobs.tell_nowait(Job(1), msg_id="a b")
        with pytest.raises(StoreRefused, match="a msg_id goes in a header") as refused:
            jobs.tell_nowait(Job(2), msg_id=msg_id)
        assert repr(msg_id) in str(refused.value)
        with pytest.raises(StoreRefused, match="a msg_id goes in a header"):
            await jobs.tell(Job(3), msg_id=msg_id)
        with pytest.raises(StoreRefused, match="a msg_id goes in a header"):
            await durable_ref(rt, "jobs").tell(Job(4), msg_id=msg_id)
        await jobs.tell(Job(5), msg_id="é")
        await eventually(lambda: sorted(got) == [(1, "a b"), (5, "é")])


async def test_the_refusal_says_what_a_header_does_to_whitespace(
    js_server: NatsServer, prefix: str
) -> None:
    """Leading or trailing whitespace is named as such."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        jobs = await rt.spawn(IdSink, [], name="jobs", mailbox=Durable())
        with pytest.raises(StoreRefused, match=WHITESPACE):
            await jobs.tell(Job(1), msg_id=" x ")


class Forwarder(trouper.Actor):
    """Forwards each job to ``sink`` with the msg_id ``" x "``."""

    def __init__(self, sink: trouper.ActorRef[object]) -> None:
        self.sink = sink

    @trouper.handler
    async def job(self, message: Job) -> None:
        await self.sink.tell(Done(message.n, "fw"), msg_id=" x ")


async def test_a_handlers_send_with_such_a_msg_id_is_refused_with_its_run(
    js_server: NatsServer, prefix: str
) -> None:
    """Its run's writes are refused: the message ends a dead letter saying why, nothing is sent."""
    got: list[Done] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Sink, got, name="sink", mailbox=Durable())
        forwarder = await rt.spawn(
            Forwarder,
            durable_ref(rt, "sink"),
            name="fw",
            mailbox=Durable(max_deliveries=2, backoff=(0.05,)),
        )
        await forwarder.tell(Job(1))

        async def buried() -> bool:
            return bool(await dead_letters(rt, "fw"))

        await eventually(buried)
        (record,) = await dead_letters(rt, "fw")
        assert WHITESPACE in record.reason
        assert got == []
