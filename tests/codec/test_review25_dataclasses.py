"""A dataclass nested in a message is held to the rules of a nested attrs value."""

from __future__ import annotations

import dataclasses

import attrs
import pytest
from test_review25_support import assert_refused, exactly

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()
CODEC = Codec(REGISTRY)
LABEL = "test_review25_dataclasses"


@dataclasses.dataclass(frozen=True)
class Item:
    """A line of an order, as a dataclass."""

    sku: str
    qty: int


@dataclasses.dataclass(frozen=True)
class GiftItem(Item):
    """An item with a note of its own."""

    note: str = ""


@REGISTRY.message("review25.basket")
@attrs.frozen
class Basket:
    """A message holding dataclass values."""

    item: Item
    spare: Item | None = None


def test_a_nested_dataclass_round_trips() -> None:
    """A dataclass field comes back equal, optional or not."""
    message = Basket(Item("a", 1), Item("b", 2))
    encoded = CODEC.encode(message)
    assert CODEC.decode(encoded.type_name, encoded.payload) == message


def test_a_subclass_of_a_dataclass_field_is_refused_not_cut_down() -> None:
    """A subclass's own fields would be dropped and it would come back as the base: refused."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(
            f"cannot encode {LABEL}.Basket: field 'item': expected {LABEL}.Item, got its "
            f"subclass {LABEL}.GiftItem, whose own fields the field would drop"
        ),
    ):
        CODEC.encode(Basket(GiftItem("a", 1, "for ann")))


def test_another_class_in_a_dataclass_field_is_named() -> None:
    """A value of an unrelated class is named as such, not as a missing attribute."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(
            f"cannot encode {LABEL}.Basket: field 'spare': expected {LABEL}.Item, got str"
        ),
    ):
        CODEC.encode(Basket(Item("a", 1), "b"))  # type: ignore[arg-type]


@pytest.mark.parametrize(("item", "shown"), [([1, 2], "[1, 2]"), ("ab", "'ab'")])
def test_a_dataclass_field_refuses_what_is_not_a_map(item: object, shown: str) -> None:
    """The refusal says a map of fields was expected, not that a list has no keys()."""
    assert_refused(
        CODEC,
        "review25.basket",
        {"item": item},
        f"payload for 'review25.basket' does not fit {LABEL}.Basket: "
        f"field 'item' expected a map of fields, got {shown}",
    )
