"""Review: ``rt.store`` resolves refs in dead letters from ``open_runtime``, before any mailbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from durable_support import make_store
from test_durable_review16_decode_error import Order, Quote, bury_order_and_quote
from test_durable_review16_js_decode_error import Quote as JsQuote
from test_durable_review16_js_decode_error import bury_quote, listed
from test_durable_review16_js_decode_error import store as js_store

import trouper
from trouper.durable import JetStreamStore
from trouper.testing import NatsServer


class Recorder(trouper.Actor):
    """Records each string it is told."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    @trouper.handler
    async def text(self, message: str) -> None:
        self.got.append(message)


async def test_dead_letters_listed_right_after_open_runtime_resolve_refs(tmp_path: Path) -> None:
    """No durable mailbox or durable_ref yet: a reply-to ref is still read back as a ref."""
    path = tmp_path / "s.db"
    await bury_order_and_quote(path)
    async with trouper.open_runtime(store=make_store(path)) as rt:
        order, quote = [dead async for dead in rt.store.dead_letters("shop")]
        assert (order.message, order.decode_error) == (Order("tea", 2), None)
        assert quote.decode_error is None
        assert isinstance(quote.message, Quote)
        # The ref is this runtime's: it reaches the actor living at its address when used.
        got: list[str] = []
        sink = await rt.spawn(Recorder, got, name="sink")
        assert quote.message == Quote("cake", sink)
        await quote.message.reply_to.tell("sorry")
        await trio.sleep(1)
    assert got == ["sorry"]


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One JetStream server for the module."""
    with NatsServer() as server:
        yield server


@pytest.mark.real_clock  # the server is another process
async def test_on_jetstream_too(server: NatsServer) -> None:
    """A JetStream store lists the ref resolved right after open_runtime as well."""
    await bury_quote(server, "r17refs")
    async with trouper.open_runtime(store=js_store(server, "r17refs")) as rt:
        assert isinstance(rt.store, JetStreamStore)
        (quote,) = await listed(rt.store)
        sink = await rt.spawn(Recorder, [], name="sink")
        assert (quote.message, quote.decode_error) == (JsQuote("cake", sink), None)
