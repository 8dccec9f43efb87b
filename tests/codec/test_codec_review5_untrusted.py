"""A payload with many misfits is refused with a reason of bounded length, in bounded time."""

from __future__ import annotations

import re

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

REGISTRY = MessageRegistry()


@REGISTRY.message("review5.numbers")
@attrs.frozen
class Numbers:
    """A list and a map of ints."""

    xs: list[int] = attrs.Factory(list)
    by_name: dict[str, int] = attrs.Factory(dict)


CODEC = Codec(REGISTRY)
FITS = "payload for 'review5.numbers' does not fit test_codec_review5_untrusted.Numbers: "


def test_a_long_list_of_misfits_names_the_first_ten() -> None:
    """The reason names ten items and says where it stopped, however many there are."""
    payload = msgpack.packb({"xs": ["a"] * 100_000})
    named = "; ".join(f"field 'xs[{i}]' expected int, got 'a'" for i in range(10))
    expected = f"{FITS}{named}; field 'xs': stopped at 10 misfits, the rest not checked"
    with pytest.raises(MessageMismatch, match=f"^{re.escape(expected)}$"):
        CODEC.decode("review5.numbers", payload)


def test_a_long_map_of_misfits_names_the_first_ten() -> None:
    """As for a list: ten values named, and the rest said in one phrase."""
    payload = msgpack.packb({"by_name": {f"k{i}": "a" for i in range(100_000)}})
    named = "; ".join(f"field 'by_name[\"k{i}\"]' expected int, got 'a'" for i in range(10))
    expected = f"{FITS}{named}; field 'by_name': stopped at 10 misfits, the rest not checked"
    with pytest.raises(MessageMismatch, match=f"^{re.escape(expected)}$"):
        CODEC.decode("review5.numbers", payload)


def test_many_unexpected_fields_are_counted_past_the_first_twenty() -> None:
    """Each problem past the twentieth is counted, not named."""
    payload = msgpack.packb({f"f{i:05}": 1 for i in range(100_000)})
    named = "; ".join(f"unexpected field 'f{i:05}'" for i in range(20))
    expected = f"{FITS}{named}; and 99980 more problems"
    with pytest.raises(MessageMismatch, match=f"^{re.escape(expected)}$"):
        CODEC.decode("review5.numbers", payload)


def test_a_long_unexpected_field_name_is_cut() -> None:
    """A name from the payload is cut as a value is, so the reason stays on a short line."""
    payload = msgpack.packb({"z" * 1000: 1})
    expected = f"{FITS}unexpected field '{'z' * 57}...'"
    with pytest.raises(MessageMismatch, match=f"^{re.escape(expected)}$"):
        CODEC.decode("review5.numbers", payload)
