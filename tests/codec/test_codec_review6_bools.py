"""A bool in an int or float field is refused at encode, where every reader would refuse it."""

from __future__ import annotations

import enum
import re

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()


class Level(enum.IntEnum):
    """An int enum, which an int field writes as its int."""

    LOW = 1


@REGISTRY.message("review6.counts")
@attrs.frozen
class Counts:
    """Int and float fields, alone, optional and inside containers."""

    total: int = 0
    ratio: float = 0.0
    maybe: int | None = None
    many: list[int] = attrs.Factory(list)
    rates: list[float] = attrs.Factory(list)
    by_name: dict[str, int] = attrs.Factory(dict)
    pair: tuple[int, str] = (0, "")
    some: tuple[float, ...] = ()
    unique: frozenset[int] = frozenset()


CODEC = Codec(REGISTRY)
PREFIX = "cannot encode test_codec_review6_bools.Counts: "


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (Counts(total=True), "field 'total': expected int, got True"),
        (Counts(ratio=False), "field 'ratio': expected float, got False"),
        (Counts(maybe=True), "field 'maybe': expected int, got True"),
        (Counts(many=[1, True]), "field 'many[1]': expected int, got True"),
        (Counts(rates=[1.5, False]), "field 'rates[1]': expected float, got False"),
        (Counts(by_name={"a": 1, "b": True}), "field 'by_name[\"b\"]': expected int, got True"),
        (Counts(pair=(True, "x")), "field 'pair[0]': expected int, got True"),
        (Counts(some=(1.0, True)), "field 'some[1]': expected float, got True"),
        (Counts(unique=frozenset([True])), "field 'unique': expected int, got True"),
    ],
)
def test_a_bool_in_an_int_or_float_field_is_refused_at_encode(
    message: Counts, problem: str
) -> None:
    """A bool is an int to a type checker, but no reader of an int or float takes one."""
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(PREFIX + problem)}$"):
        CODEC.encode(message)


@pytest.mark.parametrize(
    "message",
    [
        Counts(
            total=3,
            ratio=0.5,
            maybe=4,
            many=[1, 2],
            rates=[1.5],
            by_name={"a": 1},
            pair=(5, "x"),
            some=(1.0, 2.5),
            unique=frozenset([6]),
        ),
        Counts(maybe=None),
    ],
)
def test_ints_and_floats_still_round_trip(message: Counts) -> None:
    """Values of the field's own type come back as they went."""
    encoded = CODEC.encode(message)
    assert CODEC.decode(encoded.type_name, encoded.payload) == message


def test_an_int_enum_in_an_int_field_is_written_as_its_int() -> None:
    """A subclass of int other than bool is written as an int, and read back as one."""
    encoded = CODEC.encode(Counts(total=Level.LOW, many=[Level.LOW]))
    decoded = CODEC.decode(encoded.type_name, encoded.payload)
    assert decoded == Counts(total=1, many=[1])
    assert type(decoded.total) is int
