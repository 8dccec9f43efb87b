"""A union field writes only values of its members, which its readers accept."""

from __future__ import annotations

import re

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()


@attrs.frozen
class Circle:
    """A union member."""

    radius: float


@attrs.frozen
class Square:
    """Another union member."""

    side: float


@REGISTRY.message("review5.unions")
@attrs.frozen
class Unions:
    """Unions of scalars, of a class and scalars, of classes."""

    either: int | str = 0
    ratio: float | str = 0.0
    sized: Circle | int = 0
    shape: Circle | Square = Circle(1.0)


CODEC = Codec(REGISTRY)
PREFIX = "cannot encode test_codec_review5_unions.Unions: "


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (Unions(either=True), "field 'either': expected int | str, got True"),
        (Unions(either=b"x"), "field 'either': expected int | str, got b'x'"),  # type: ignore[arg-type]
        (Unions(sized="x"), "field 'sized': expected Circle | int, got 'x'"),  # type: ignore[arg-type]
        (Unions(sized=None), "field 'sized': expected Circle | int, got None"),  # type: ignore[arg-type]
        (Unions(shape=None), "field 'shape': expected Circle | Square, got None"),  # type: ignore[arg-type]
        (Unions(ratio=False), "field 'ratio': expected float | str, got False"),
    ],
)
def test_a_value_of_no_member_of_a_union_is_refused_at_encode(
    message: Unions, problem: str
) -> None:
    """A bool is an int to a type checker, but every reader refuses it: the sender hears of it."""
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(PREFIX + problem)}$"):
        CODEC.encode(message)


@pytest.mark.parametrize(
    "message",
    [
        Unions(either=1, ratio=2, sized=Circle(2.0), shape=Square(1.0)),
        Unions(either="a", ratio="b", sized=3, shape=Circle(1.0)),
        Unions(ratio=1.5),
    ],
)
def test_values_of_the_members_round_trip(message: Unions) -> None:
    """Each member's values come back; an int in a union with float comes back as a float."""
    encoded = CODEC.encode(message)
    assert CODEC.decode(encoded.type_name, encoded.payload) == message
