"""Review 13: durable state reads a nested class's field policy as a message does."""

from __future__ import annotations

from pathlib import Path

import attrs
from durable_support import Charge, sqlite

import trouper
from trouper.codec import Codec
from trouper.durable import Durable


@attrs.define
class LineV1:
    """A line of the state, first version."""

    sku: str = ""
    note: str = ""


@trouper.message("test.durable.review13.line", ignore_unknown_fields=True)
@attrs.define
class LineV2:
    """A line of the state, second version: ``note`` removed, registered lenient."""

    sku: str = ""


@trouper.message("test.durable.review13.order")
@attrs.define
class OrderV2:
    """A message holding lines of the second version."""

    lines: list[LineV2] = attrs.Factory(list)


@attrs.define
class CartV1:
    """Durable state holding lines, first version."""

    lines: list[LineV1] = attrs.Factory(list)


@attrs.define
class CartV2:
    """Durable state holding lines, second version."""

    lines: list[LineV2] = attrs.Factory(list)


class CartOne(trouper.Actor):
    """Adds a line per charge, in the first version of its state."""

    state: CartV1

    @trouper.handler
    async def charge(self, message: Charge) -> int:
        self.state.lines.append(LineV1(message.order_id, "gift"))
        return len(self.state.lines)


class CartTwo(trouper.Actor):
    """Adds a line per charge, in the second version of its state."""

    state: CartV2

    @trouper.handler
    async def charge(self, message: Charge) -> list[str]:
        self.state.lines.append(LineV2(message.order_id))
        return [line.sku for line in self.state.lines]


async def test_a_nested_class_registered_lenient_drops_a_removed_field_in_state(
    tmp_path: Path,
) -> None:
    """The lines lost ``note``: the saved state loads without it, as a message's lines would."""
    message = Codec().decode(
        "test.durable.review13.order", b"\x81\xa5lines\x91\x82\xa3sku\xa1a\xa4note\xa1n"
    )
    assert message == OrderV2([LineV2("a")])  # what a message does with the same lines
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(CartOne, name="cart", mailbox=Durable())
        assert await ref.ask(Charge("a", 1)) == 1
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(CartTwo, name="cart", mailbox=Durable())
        assert await ref.ask(Charge("b", 1)) == ["a", "b"]
