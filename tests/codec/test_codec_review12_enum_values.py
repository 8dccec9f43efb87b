"""An enum whose values would not come back as they went is refused when first encoded."""

from __future__ import annotations

import enum
import re
from typing import Literal

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UndecodableMessage, UnencodableMessage

REGISTRY = MessageRegistry()


class Rgb(enum.Enum):
    """Tuple values: msgpack writes a tuple as an array, read back as a list."""

    RED = (255, 0, 0)
    BLUE = (0, 0, 255)


class Mood(enum.Enum):
    """Builtin values only: every member comes back."""

    HAPPY = "happy"
    NONE = None
    SCORE = 1.5
    RAW = b"raw"
    PAIR = [1, 2]  # noqa: RUF012  (a member's value, not a shared default)


@REGISTRY.message("review12.paint")
@attrs.frozen
class Paint:
    """An enum field whose values are tuples."""

    color: Rgb


@REGISTRY.message("review12.maybe-paint")
@attrs.frozen
class MaybePaint:
    """The same enum in an optional field."""

    color: Rgb | None = None


@REGISTRY.message("review12.feel")
@attrs.frozen
class Feel:
    """An enum field whose values are builtin values."""

    mood: Mood


PROBLEM = (
    "UnsupportedType(\"Rgb: an enum's values must be builtin values (None, bool, int, float, "
    "str, bytes, or lists and dicts of them) to be read back, but Rgb.RED's value is "
    '(255, 0, 0)")'
)


def test_an_enum_of_tuple_values_is_refused_at_encode() -> None:
    """Its members would be written, and every reader would refuse them: the sender is told."""
    with pytest.raises(
        UnencodableMessage,
        match=rf"^cannot encode test_codec_review12_enum_values\.Paint: field 'color' "
        rf"cannot be read back: {re.escape(PROBLEM)}$",
    ):
        Codec(REGISTRY).encode(Paint(Rgb.BLUE))


def test_an_optional_enum_of_tuple_values_is_refused_even_when_none() -> None:
    """Refused for the class, once, whatever the value: a None today is a member tomorrow."""
    with pytest.raises(UnencodableMessage, match=r"field 'color' cannot be read back: .*Rgb\.RED"):
        Codec(REGISTRY).encode(MaybePaint())


def test_decoding_an_enum_of_tuple_values_says_why() -> None:
    """A receiver of such a type says it cannot read the class, not that a payload misfits."""
    with pytest.raises(UndecodableMessage, match=re.escape(PROBLEM)):
        Codec(REGISTRY).decode("review12.paint", b"\x81\xa5color\x93\xcc\xff\x00\x00")


@pytest.mark.parametrize("mood", list(Mood))
def test_an_enum_of_builtin_values_round_trips(mood: Mood) -> None:
    """None, str, float, bytes and list values come back as the members they were."""
    codec = Codec(REGISTRY)
    encoded = codec.encode(Feel(mood))
    assert codec.decode(encoded.type_name, encoded.payload) == Feel(mood)


class Mode(enum.Enum):
    """A member whose value is None: in an optional field, it would be read back as None."""

    OFF = None
    ON = "on"


@REGISTRY.message("review12.switch")
@attrs.frozen
class Switch:
    """An optional field of an enum that has a None-valued member."""

    mode: Mode | None = None


@REGISTRY.message("review12.plain-switch")
@attrs.frozen
class PlainSwitch:
    """The same enum, not optional: its None is the member."""

    mode: Mode


def test_an_optional_enum_with_a_none_member_is_refused_at_encode() -> None:
    """``Mode.OFF`` would be written as nil and read back as the field's None: refused."""
    with pytest.raises(UnencodableMessage) as refused:
        Codec(REGISTRY).encode(Switch(Mode.OFF))
    assert str(refused.value) == (
        "cannot encode test_codec_review12_enum_values.Switch: field 'mode' cannot be read back: "
        "UnsupportedType(\"Mode | None: Mode.OFF's value is None, which the field reads as "
        'None, not as the member")'
    )


def test_an_enum_with_a_none_member_round_trips_where_it_is_not_optional() -> None:
    """Not optional, a nil can only be the member."""
    codec = Codec(REGISTRY)
    encoded = codec.encode(PlainSwitch(Mode.OFF))
    assert codec.decode(encoded.type_name, encoded.payload) == PlainSwitch(Mode.OFF)


@REGISTRY.message("review12.literal-switch")
@attrs.frozen
class LiteralSwitch:
    """An optional field of a Literal that names the None-valued member."""

    mode: Literal[Mode.OFF, Mode.ON] | None = None


def test_an_optional_literal_of_a_none_member_is_refused_at_encode() -> None:
    """As for the enum itself: ``Mode.OFF`` in the Literal would come back as the field's None."""
    with pytest.raises(UnencodableMessage) as refused:
        Codec(REGISTRY).encode(LiteralSwitch(Mode.OFF))
    assert str(refused.value) == (
        "cannot encode test_codec_review12_enum_values.LiteralSwitch: field 'mode' cannot be "
        "read back: UnsupportedType(\"Literal[<Mode.OFF: None>, <Mode.ON: 'on'>] | None: "
        "Mode.OFF's value is None, which the field reads as None, not as the member\")"
    )


class Light(enum.Enum):
    """Another enum with a member of value "on", as ``Mode.ON``."""

    ON = "on"


@REGISTRY.message("review12.either-on")
@attrs.frozen
class EitherOn:
    """A Literal of two members written alike: "on"."""

    on: Literal[Mode.ON, Light.ON]


def test_a_literal_of_two_values_written_alike_is_refused_at_encode() -> None:
    """Both are written "on": a reader would take each for the last one named."""
    with pytest.raises(UnencodableMessage) as refused:
        Codec(REGISTRY).encode(EitherOn(Mode.ON))
    assert str(refused.value) == (
        "cannot encode test_codec_review12_enum_values.EitherOn: field 'on' cannot be read "
        "back: UnsupportedType(\"Literal[<Mode.ON: 'on'>, <Light.ON: 'on'>]: Mode.ON and "
        "Light.ON are both written as 'on', so they cannot be told apart\")"
    )
