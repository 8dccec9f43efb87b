"""Enums, Literals and subclasses of scalars: decoded as strictly as the scalars themselves."""

from __future__ import annotations

import enum
from typing import Any, Literal

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

REGISTRY = MessageRegistry()


class Toggle(enum.Enum):
    """An enum with bool values."""

    ON = True
    OFF = False


class Ratio(enum.Enum):
    """An enum with float values."""

    HALF = 0.5
    ONE = 1.0


class Cents(int):
    """A subclass of int."""


class Sku(str):
    """A subclass of str."""


NO_CENTS = Cents(0)
NO_SKU = Sku("")


@REGISTRY.message("review2.settings")
@attrs.frozen
class Settings:
    """One field of each kind."""

    toggle: Toggle = Toggle.OFF
    ratio: Ratio = Ratio.ONE
    mode: Literal["fast", 2, True] = "fast"
    cents: Cents = NO_CENTS
    sku: Sku = NO_SKU


CODEC = Codec(REGISTRY)
FITS = "payload for 'review2.settings' does not fit test_codec_review2_scalars.Settings: "


@pytest.mark.parametrize(
    "message",
    [
        Settings(Toggle.ON),
        Settings(Toggle.OFF, Ratio.HALF),
        Settings(mode=2),
        Settings(mode=True),
        Settings(cents=Cents(5), sku=Sku("a")),
    ],
)
def test_enums_literals_and_scalar_subclasses_round_trip(message: Settings) -> None:
    """Each value comes back equal and of its own class."""
    encoded = CODEC.encode(message)
    decoded = CODEC.decode(encoded.type_name, encoded.payload)
    assert decoded == message
    assert isinstance(decoded, Settings)
    assert [type(getattr(decoded, f.name)) for f in attrs.fields(Settings)] == [
        type(getattr(message, f.name)) for f in attrs.fields(Settings)
    ]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("toggle", 1, "Toggle"),
        ("ratio", 1, "Ratio"),
        ("mode", 1, "Literal['fast', 2, True]"),
        ("mode", 2.0, "Literal['fast', 2, True]"),
        ("cents", 1.0, "Cents"),
        ("sku", b"a", "Sku"),
    ],
)
def test_a_value_equal_to_an_allowed_one_but_of_another_kind_is_refused(
    field: str, value: Any, expected: str
) -> None:
    """``1`` is not ``True`` nor ``1.0``, ``b"a"`` is not a str: refused, as for plain scalars."""
    with pytest.raises(MessageMismatch) as caught:
        CODEC.decode("review2.settings", msgpack.packb({field: value}))
    assert str(caught.value) == f"{FITS}field {field!r} expected {expected}, got {value!r}"
