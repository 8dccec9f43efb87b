"""Review: a JetStream dead letter whose message does not decode says why (``decode_error``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import attrs
import pytest
import trio

import trouper
from trouper.codec import Codec, MessageRegistry
from trouper.durable import DeadLetterRecord, Durable, GiveUp, JetStreamStore
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock  # the server is another process


@trouper.message("test.durable.r16js.quote")
@attrs.frozen
class Quote:
    """A request whose answer goes to ``reply_to``."""

    item: str
    reply_to: trouper.ActorRef[object]


class Refuser(trouper.Actor):
    """Gives up on every quote."""

    @trouper.handler
    async def quote(self, message: Quote) -> None:
        raise GiveUp("closed")


class Sink(trouper.Actor):
    """A live actor for a quote's reply-to ref."""

    @trouper.handler
    async def text(self, message: str) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One JetStream server for the module."""
    with NatsServer() as server:
        yield server


def store(server: NatsServer, prefix: str, codec: Codec | None = None) -> JetStreamStore:
    """A store on ``server`` under ``prefix`` with short polls."""
    return JetStreamStore(
        server.url, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5, codec=codec
    )


async def listed(store: JetStreamStore) -> list[DeadLetterRecord]:
    """Every dead letter of ``store``, oldest first."""
    return [record async for record in store.dead_letters()]


async def bury_quote(server: NatsServer, prefix: str) -> None:
    """Leave one dead ``Quote`` holding a ref under ``prefix``; it decodes in the runtime."""
    async with trouper.open_runtime(store=store(server, prefix)) as rt:
        sink = await rt.spawn(Sink, name="sink")
        shop = await rt.spawn(Refuser, name="shop", mailbox=Durable())
        await shop.tell(Quote("cake", sink))
        assert isinstance(rt.store, JetStreamStore)
        with trio.fail_after(10):
            for _ in itertools.count():  # the server delivers in its own time
                if records := await listed(rt.store):
                    break
                await trio.sleep(0.01)
        assert [(r.message, r.decode_error) for r in records] == [(Quote("cake", sink), None)]


async def test_an_unknown_type_name_is_said(server: NatsServer) -> None:
    """A store whose codec has no class under the type name lists why the message is None."""
    await bury_quote(server, "r16a")
    async with store(server, "r16a", Codec(MessageRegistry())) as alone:
        (record,) = await listed(alone)
    assert (record.message, record.decode_error) == (
        None,
        "no message type is registered as 'test.durable.r16js.quote' in this process",
    )


async def test_a_ref_without_a_runtime_says_the_store_has_none(server: NatsServer) -> None:
    """A store opened alone cannot resolve a reply-to ref, and says it needs a runtime."""
    await bury_quote(server, "r16b")
    async with store(server, "r16b") as alone:
        (record,) = await listed(alone)
    assert record.message is None
    assert record.decode_error is not None
    assert record.decode_error.startswith("payload for 'test.durable.r16js.quote' holds a ref to ")
    assert "refs resolve only through rt.store of a runtime" in record.decode_error


async def test_an_unreadable_record_says_there_is_no_message(server: NatsServer) -> None:
    """Another publisher's junk on the dead-letter subject has a decode error too."""
    await bury_quote(server, "r16c")
    async with store(server, "r16c") as alone:
        await alone.client.jetstream().publish("r16c.dead.shop", b"not a record")
        _, junk = await listed(alone)
    assert (junk.message, junk.decode_error) == (
        None,
        "the dead-letter record is unreadable: there is no message to decode",
    )
