"""Untrusted payloads: whatever msgpack holds, decoding raises only ``UndecodableMessage``."""

from __future__ import annotations

import re

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

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
