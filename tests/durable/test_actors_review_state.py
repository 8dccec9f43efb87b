"""Durable state, reviewed: asks when the state cannot be saved, on_start changes, evolution."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, GiveUp
from trouper.errors import HandlerError, UnencodableMessage


class Opaque:
    """Not a value the codec can store."""


@attrs.define
class Box:
    """Durable state that a handler can make unencodable."""

    total: int = 0
    extra: object = None


class Spoiler(trouper.Actor):
    """Adds each charge; a total of 0 leaves an unencodable value in the state."""

    state: Box

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.state.total += message.total
        if message.total == 0:
            self.state.extra = Opaque()
        return self.state.total


async def test_an_ask_whose_state_cannot_be_saved_gets_handler_error(tmp_path: Path) -> None:
    """The handler returned but nothing committed: the asker hears why, not the result."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Spoiler, name="s", mailbox=Durable(max_deliveries=1))
        assert await ref.ask(Charge("a", 5)) == 5
        with pytest.raises(HandlerError, match=r"cannot encode .*Box: field 'extra'") as caught:
            await ref.ask(Charge("b", 0))
        assert isinstance(caught.value.__cause__, UnencodableMessage)
        await trio.sleep(1)
        assert await ref.ask(Charge("c", 1)) == 6
        reasons = [dead.reason async for dead in rt.store.dead_letters("s")]
    assert len(reasons) == 1
    assert reasons[0].startswith("UnencodableMessage: cannot encode")


class Replacer(trouper.Actor):
    """Replaces its state with a dict on a total of 0."""

    state: Box

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        if message.total == 0:
            self.state = {"total": 0}  # type: ignore[assignment]
        return message.total


async def test_an_ask_whose_state_was_replaced_gets_handler_error(tmp_path: Path) -> None:
    """self.state replaced by another type: the asker hears it, the state is rolled back."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Replacer, name="r", mailbox=Durable(max_deliveries=1))
        with pytest.raises(HandlerError, match=r"self.state must stay a Box"):
            await ref.ask(Charge("a", 0))
        assert await ref.ask(Charge("b", 7)) == 7


@attrs.define
class Starts:
    """Durable state: a line per start, and the charges."""

    log: list[str] = attrs.Factory(list)


class Starter(trouper.Actor):
    """Notes each start in its state; gives a charge of 0 up, returns the log otherwise."""

    state: Starts

    def __init__(self, seen: list[list[str]]) -> None:
        self.seen = seen

    async def on_start(self) -> None:
        self.seen.append(list(self.state.log))
        self.state.log.append("start")

    @trouper.handler
    async def charge(self, message: Charge) -> list[str]:
        self.state.log.append(message.order_id)
        if message.total == 0:
            raise GiveUp("zero")
        return list(self.state.log)


async def test_an_absorbed_failure_keeps_what_on_start_changed(tmp_path: Path) -> None:
    """A GiveUp before the first ack rolls back to the state as on_start left it, not before."""
    seen: list[list[str]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Starter, seen, name="s", mailbox=Durable())
        with pytest.raises(HandlerError, match=r"gave up: zero"):
            await ref.ask(Charge("a", 0))
        assert await ref.ask(Charge("b", 1)) == ["start", "b"]
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Starter, seen, name="s", mailbox=Durable())
    assert seen == [[], ["start", "b"]]


class Stopper(Starter):
    """Also notes its stop in its state: no ack follows, so that line is never saved."""

    async def on_stop(self) -> None:
        self.state.log.append("stop")


async def test_on_start_changes_are_saved_with_the_next_ack_and_on_stop_changes_never(
    tmp_path: Path,
) -> None:
    """State is saved with acks only: on_start's changes go with the next one, on_stop's never."""
    seen: list[list[str]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Stopper, seen, name="s", mailbox=Durable())
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Stopper, seen, name="s", mailbox=Durable())
        assert await ref.ask(Charge("a", 1)) == ["start", "a"]
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn(Stopper, seen, name="s", mailbox=Durable())
    assert seen == [[], [], ["start", "a"]]


@attrs.define
class CartV1:
    """Durable state, first version."""

    items: int = 0
    coupon: str = ""


@trouper.message("test.durable.review.cart", ignore_unknown_fields=True)
@attrs.define
class CartV2:
    """Durable state, second version: ``coupon`` removed, unknown fields dropped."""

    items: int = 0


class CartOne(trouper.Actor):
    """Counts items in the first version of its state."""

    state: CartV1

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.state.items += message.total
        self.state.coupon = message.order_id
        return self.state.items


class CartTwo(trouper.Actor):
    """Counts items in the second version of its state."""

    state: CartV2

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.state.items += message.total
        return self.state.items


async def test_a_state_class_registered_lenient_drops_a_removed_field(tmp_path: Path) -> None:
    """As for messages, ignore_unknown_fields=True lets a state class lose a field between runs."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(CartOne, name="cart", mailbox=Durable())
        assert await ref.ask(Charge("c-1", 2)) == 2
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(CartTwo, name="cart", mailbox=Durable())
        assert await ref.ask(Charge("c-2", 3)) == 5
