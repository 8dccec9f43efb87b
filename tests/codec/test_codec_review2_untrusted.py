"""Untrusted payloads: whatever msgpack holds, decoding raises only ``UndecodableMessage``."""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Callable
from typing import Any

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trouper import Address
from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch, UndecodableMessage

REGISTRY = MessageRegistry()


@attrs.frozen
class Item:
    """A nested value."""

    sku: str


@REGISTRY.message("review2.order")
@attrs.frozen
class Order:
    """A message with a nested attrs class."""

    order_id: str
    item: Item


CODEC = Codec(REGISTRY)
FITS = "payload for 'review2.order' does not fit test_codec_review2_untrusted.Order: "


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


def test_a_bytes_key_among_the_fields_is_a_mismatch() -> None:
    """msgpack lets a map key be bytes: an unexpected key, not a TypeError while explaining."""
    payload = msgpack.packb({"order_id": "o-1", "item": {"sku": "a"}, b"total": 1, "zz": 2})
    with pytest.raises(
        MessageMismatch,
        match=exactly(f"{FITS}unexpected field 'zz'; unexpected key b'total' (not a str)"),
    ):
        CODEC.decode("review2.order", payload)


def test_a_bytes_key_in_a_nested_class_is_a_mismatch() -> None:
    """A bytes key in a nested class's map is named under that field."""
    payload = msgpack.packb({"order_id": "o-1", "item": {"sku": "a", b"x": 1}})
    with pytest.raises(
        MessageMismatch, match=exactly(f"{FITS}field 'item': unexpected key b'x' (not a str)")
    ):
        CODEC.decode("review2.order", payload)


def test_a_blob_whose_fields_have_a_bytes_key_is_a_mismatch() -> None:
    """``decode_blob`` explains the same payload the same way."""
    blob = msgpack.packb(["review2.order", {"order_id": "o-1", "item": {"sku": "a"}, b"": 0}])
    with pytest.raises(MessageMismatch, match=exactly(f"{FITS}unexpected key b'' (not a str)")):
        CODEC.decode_blob(blob)


class Color(enum.Enum):
    """An enum with str values."""

    RED = "red"


@attrs.frozen
class Circle:
    """A union member."""

    radius: float


@attrs.frozen
class Square:
    """Another union member."""

    side: float


@REGISTRY.message("review2.kitchen-sink")
@attrs.frozen
class KitchenSink:
    """Fields of many kinds, each with a default, so that a payload may carry any subset."""

    item: Item | None = None
    shape: Circle | Square | None = None
    either: int | str = 0
    tags: frozenset[str] = frozenset()
    pair: tuple[int, str] = (0, "")
    by_color: dict[Color, list[int]] = attrs.Factory(dict)
    at: datetime.datetime | None = None
    color: Color = Color.RED
    anything: Any = None
    to: Address | None = None


KEYS = st.sampled_from([f.name for f in attrs.fields(KitchenSink)] + ["sku", "radius", "$type"])
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=4)
    | st.sampled_from(["red", "2024-02-29T12:00:00+01:00", "test_codec_review2_untrusted.Circle"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=3) | st.binary(max_size=2), children, max_size=4)
    ),
    max_leaves=16,
)


def _refusal(decode: Callable[[], object]) -> str:
    """Call ``decode``; return the text of the ``UndecodableMessage`` it raised, or ``""``."""
    try:
        decode()
    except UndecodableMessage as error:
        return str(error)
    return ""


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["review2.kitchen-sink", "review2.order", "dict", "list", "int"]), VALUES)
def test_any_msgpack_value_decodes_or_raises_undecodable(name: str, value: object) -> None:
    """Whatever msgpack holds, ``decode`` returns a message or raises ``UndecodableMessage``."""
    for refusal in (
        _refusal(lambda: CODEC.decode(name, msgpack.packb(value))),
        _refusal(lambda: CODEC.decode_blob(msgpack.packb([name, value]))),
    ):
        assert refusal == "" or refusal.startswith(f"payload for {name!r} ")


@REGISTRY.message("review2.prices")
@attrs.frozen
class Prices:
    """A message with a map of str keys."""

    by_currency: dict[str, int]


def test_a_bytes_key_in_a_str_keyed_map_is_shown_as_bytes() -> None:
    """The key is shown as the bytes it is, not as a str that reads "b'usd'"."""
    payload = msgpack.packb({"by_currency": {b"usd": 1}})
    with pytest.raises(
        MessageMismatch,
        match=exactly(
            "payload for 'review2.prices' does not fit test_codec_review2_untrusted.Prices: "
            "field \"by_currency[b'usd']\" expected str, got b'usd'"
        ),
    ):
        CODEC.decode("review2.prices", payload)
