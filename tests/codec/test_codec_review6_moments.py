"""A naive datetime's text is read as naive, whatever character separates its date and time."""

from __future__ import annotations

import datetime

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry

REGISTRY = MessageRegistry()


@REGISTRY.message("review6.stamped")
@attrs.frozen
class Stamped:
    """A datetime field."""

    at: datetime.datetime


CODEC = Codec(REGISTRY)


@pytest.mark.parametrize("separator", ["-", "+"])
def test_a_naive_text_whose_separator_looks_like_an_offset_sign_stays_naive(
    separator: str,
) -> None:
    """``2024-01-01-00:00:00.000001`` is naive (any separator is taken), not 1 µs behind UTC."""
    payload = msgpack.packb({"at": f"2024-01-01{separator}00:00:00.000001"})
    decoded = CODEC.decode("review6.stamped", payload)
    assert decoded == Stamped(datetime.datetime(2024, 1, 1, 0, 0, 0, 1))
    assert decoded.at.tzinfo is None
