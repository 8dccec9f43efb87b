"""Review: a dead letter whose message does not decode says why (``decode_error``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from durable_support import make_store

import trouper
from trouper.codec import Codec, MessageRegistry
from trouper.durable import Durable, GiveUp
from trouper.durable.__main__ import main as cli


@trouper.message("test.durable.r16.order")
@attrs.frozen
class Order:
    """An order the shop refuses."""

    item: str
    count: int


@trouper.message("test.durable.r16.quote")
@attrs.frozen
class Quote:
    """A request whose answer goes to ``reply_to``."""

    item: str
    reply_to: trouper.ActorRef[object]


class Refuser(trouper.Actor):
    """Gives up on every order and quote."""

    @trouper.handler
    async def order(self, message: Order) -> None:
        raise GiveUp("closed")

    @trouper.handler
    async def quote(self, message: Quote) -> None:
        raise GiveUp("closed")


class Sink(trouper.Actor):
    """A live actor for a quote's reply-to ref."""

    @trouper.handler
    async def text(self, message: str) -> None:
        pass


async def bury_order_and_quote(path: Path) -> None:
    """Leave one dead ``Order`` and one dead ``Quote`` (holding a ref) in the store at ``path``."""
    async with trouper.open_runtime(store=make_store(path)) as rt:
        sink = await rt.spawn(Sink, name="sink")
        shop = await rt.spawn(Refuser, name="shop", mailbox=Durable())
        await shop.tell(Order("tea", 2))
        await shop.tell(Quote("cake", sink))
        await trio.sleep(1)
        records = [dead async for dead in rt.store.dead_letters("shop")]
        assert [(d.message, d.decode_error) for d in records] == [
            (Order("tea", 2), None),
            (Quote("cake", sink), None),
        ]


async def test_an_unknown_type_name_is_said(tmp_path: Path) -> None:
    """A store whose codec has no class under the type name lists why the message is None."""
    path = tmp_path / "s.db"
    await bury_order_and_quote(path)
    async with make_store(path, codec=Codec(MessageRegistry())) as store:
        order, _ = [dead async for dead in store.dead_letters("shop")]
    assert (order.message, order.decode_error) == (
        None,
        "no message type is registered as 'test.durable.r16.order' in this process",
    )


async def test_a_payload_that_no_longer_fits_its_class_says_which_field(tmp_path: Path) -> None:
    """A class registered under the name with other fields: cattrs' reason, with the field."""
    path = tmp_path / "s.db"
    await bury_order_and_quote(path)
    registry = MessageRegistry()

    @registry.message("test.durable.r16.order")
    @attrs.frozen
    class Order:  # renamed its field since the order was stored
        item: str
        quantity: int

    async with make_store(path, codec=Codec(registry)) as store:
        order, _ = [dead async for dead in store.dead_letters("shop")]
    assert order.message is None
    assert order.decode_error is not None
    assert order.decode_error.startswith("payload for 'test.durable.r16.order' does not fit ")
    assert "'quantity'" in order.decode_error


async def test_a_ref_without_a_runtime_says_the_store_has_none(tmp_path: Path) -> None:
    """A store opened alone cannot resolve a reply-to ref, and says it needs a runtime."""
    path = tmp_path / "s.db"
    await bury_order_and_quote(path)
    async with make_store(path) as store:
        order, quote = [dead async for dead in store.dead_letters("shop")]
    assert (order.message, order.decode_error) == (Order("tea", 2), None)
    assert quote.message is None
    assert quote.decode_error is not None
    assert quote.decode_error.startswith("payload for 'test.durable.r16.quote' holds a ref to ")
    assert "in field 'reply_to' that cannot be resolved: this codec has no resolver" in (
        quote.decode_error
    )
    assert "refs resolve only through rt.store of a runtime" in quote.decode_error


def test_the_command_line_shows_why_beside_the_dead_letter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``inspect`` prints the decode error under each dead letter, and in its JSON."""
    path = tmp_path / "s.db"
    trio.run(bury_order_and_quote, path, clock=trio.testing.MockClock(autojump_threshold=0))
    assert cli(["inspect", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    quote = next(i for i, line in enumerate(lines) if "test.durable.r16.quote" in line)
    assert lines[quote + 1].startswith(
        "    not decoded: payload for 'test.durable.r16.quote' holds a ref to "
    )
    assert cli(["inspect", "--json", str(path)]) == 0
    order, quote_json = json.loads(capsys.readouterr().out)["dead_letters"]
    assert (order["message"], order["decode_error"]) == ("Order(item='tea', count=2)", None)
    assert quote_json["message"] is None
    assert "cannot be resolved" in quote_json["decode_error"]


def test_the_command_line_says_a_type_it_does_not_know(tmp_path: Path) -> None:
    """``python -m trouper.durable inspect`` imports no message class: it says so, per letter."""
    path = tmp_path / "s.db"
    trio.run(bury_order_and_quote, path, clock=trio.testing.MockClock(autojump_threshold=0))
    done = subprocess.run(
        [sys.executable, "-m", "trouper.durable", "inspect", str(path)],
        capture_output=True,
        timeout=20,
        check=True,
    )
    lines = done.stdout.decode().splitlines()
    order = next(i for i, line in enumerate(lines) if "test.durable.r16.order" in line)
    assert lines[order + 1] == (
        "    not decoded: no message type is registered as 'test.durable.r16.order' in this process"
        " (--import the module that registers it to see it decoded)"
    )


class OwnCodec(Codec):
    """A codec of the user's own (a subclass): the runtime leaves it as it is."""


async def test_a_codec_the_runtime_keeps_is_not_told_to_use_a_runtime(tmp_path: Path) -> None:
    """A ``Codec`` subclass without a resolver, in a runtime: no advice that a runtime helps."""
    path = tmp_path / "s.db"
    await bury_order_and_quote(path)
    async with trouper.open_runtime(store=make_store(path, codec=OwnCodec())) as rt:
        await rt.spawn(Refuser, name="shop", mailbox=Durable())  # the durable layer is made
        _, quote = [dead async for dead in rt.store.dead_letters("shop")]
    assert quote.decode_error is not None
    assert quote.decode_error.endswith("that cannot be resolved: this codec has no resolver")
