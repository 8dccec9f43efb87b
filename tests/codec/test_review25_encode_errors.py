"""Encoding refusals say what the field wanted, not which builtin tripped."""

from __future__ import annotations

from typing import cast

import attrs
import pytest
from test_review25_support import exactly

from trouper import ActorRef, Address
from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()
CODEC = Codec(REGISTRY)
PREFIX = "cannot encode test_review25_encode_errors."


@REGISTRY.message("review25.point")
@attrs.frozen
class Point:
    """A pair of coordinates, and a label with its weight."""

    xy: tuple[int, int]
    tagged: tuple[str, float] | None = None


@REGISTRY.message("review25.ask")
@attrs.frozen
class Ask:
    """A question with where to send the answer."""

    reply_to: ActorRef[int]
    copy_to: ActorRef[int] | None = None


@pytest.mark.parametrize("xy", [(1, 2, 3), (1,)])
def test_a_fixed_tuple_of_another_length_is_named(xy: tuple[int, ...]) -> None:
    """The refusal says how many items the field takes, not that zip() saw a longer argument."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(f"{PREFIX}Point: field 'xy': expected a tuple of 2 items, got {xy!r}"),
    ):
        CODEC.encode(Point(xy))  # type: ignore[arg-type]


def test_an_optional_fixed_tuple_of_another_length_is_named() -> None:
    """The same within an optional field."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(
            f"{PREFIX}Point: field 'tagged': expected a tuple of 2 items, got ('a', 1.0, 2)"
        ),
    ):
        CODEC.encode(Point((1, 2), ("a", 1.0, 2)))  # type: ignore[arg-type]


def test_an_address_where_a_ref_goes_is_named() -> None:
    """An Address in a ref field is refused as not a ref, not with an AttributeError."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(
            f"{PREFIX}Ask: field 'reply_to': expected an ActorRef, "
            "got Address(node='n1', path='/a')"
        ),
    ):
        CODEC.encode(Ask(cast("ActorRef[int]", Address("n1", "/a"))))


def test_none_where_a_ref_goes_is_named() -> None:
    """A None in a ref field that is not optional is refused the same way."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(f"{PREFIX}Ask: field 'reply_to': expected an ActorRef, got None"),
    ):
        CODEC.encode(Ask(cast("ActorRef[int]", None)))
