"""Tagged unions: members told apart by distinct tags, and a malformed tag said plainly."""

from __future__ import annotations

import re
from typing import Generic, TypeVar

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch, UnencodableMessage

T = TypeVar("T")
REGISTRY = MessageRegistry()


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


def _shape(default: int) -> type:
    """Make a class; each call makes another class with the same qualified name."""

    @attrs.frozen
    class Shape:
        size: int = default

    return Shape


Small = _shape(1)
Large = _shape(2)


@attrs.frozen
class Box(Generic[T]):
    """A generic member: its parametrizations share one class."""

    value: T


@REGISTRY.message("review2.drawing")
@attrs.frozen
class Drawing:
    """A union of two classes that have the same qualified name."""

    shape: Small | Large  # type: ignore[valid-type]


@REGISTRY.message("review2.parcel")
@attrs.frozen
class Parcel:
    """A union of two parametrizations of one generic class."""

    box: Box[int] | Box[str]


@attrs.frozen
class Circle:
    """A member."""

    radius: int


@attrs.frozen
class Square:
    """Another member."""

    side: int


@REGISTRY.message("review2.figure")
@attrs.frozen
class Figure:
    """A well-formed tagged union."""

    shape: Circle | Square


CODEC = Codec(REGISTRY)


def test_union_members_with_the_same_tag_are_refused() -> None:
    """Two classes whose tags coincide cannot be told apart: refused, not decoded as the other."""
    with pytest.raises(
        UnencodableMessage,
        match=(
            r"^cannot encode test_codec_review2_unions\.Drawing: "
            r"UnsupportedType\(\"Shape \| Shape: members Shape and Shape have the same "
            r"'\$type' tag 'test_codec_review2_unions\._shape\.<locals>\.Shape'"
        ),
    ):
        CODEC.encode(Drawing(Large()))


def test_parametrizations_of_one_generic_class_are_refused_in_a_union() -> None:
    """``Box[int] | Box[str]`` carry one tag: refused at encode."""
    with pytest.raises(
        UnencodableMessage, match=r"members Box\[int\] and Box\[str\] have the same"
    ):
        CODEC.encode(Parcel(Box("s")))


@pytest.mark.parametrize("tag", [["review2.circle"], {"a": 1}, 5])
def test_a_tag_that_is_not_a_str_is_a_mismatch(tag: object) -> None:
    """A tag that is a list, a map or a number names no member, and the error says so."""
    payload = msgpack.packb({"shape": {"radius": 1, "$type": tag}})
    with pytest.raises(
        MessageMismatch,
        match=exactly(
            "payload for 'review2.figure' does not fit test_codec_review2_unions.Figure: "
            f"field 'shape' has '$type' {tag!r}, expected one of "
            "'test_codec_review2_unions.Circle', 'test_codec_review2_unions.Square'"
        ),
    ):
        CODEC.decode("review2.figure", payload)
