"""A datetime field refuses a date's text: a field whose type changed from date to datetime."""

from __future__ import annotations

import datetime

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

REGISTRY = MessageRegistry()


@REGISTRY.message("review.shipped")
@attrs.frozen
class Shipped:
    """Was ``on: datetime.date``; rows written then hold only a date's text."""

    on: datetime.datetime


CODEC = Codec(REGISTRY)


@pytest.mark.parametrize("text", ["2024-02-29", "20240229", "2024-W09", "2024-W09-4"])
def test_a_datetime_field_refuses_a_date_text(text: str) -> None:
    """A date's text is not a datetime: decoding it as midnight would invent a time of day."""
    with pytest.raises(MessageMismatch) as caught:
        CODEC.decode("review.shipped", msgpack.packb({"on": text}))
    assert str(caught.value) == (
        "payload for 'review.shipped' does not fit test_codec_review_moments.Shipped: "
        f"field 'on' expected datetime (ISO 8601 text), got {text!r}"
    )


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2024, 2, 29),
        datetime.datetime(2024, 2, 29, tzinfo=datetime.UTC),
        datetime.datetime(1, 1, 1),
    ],
)
def test_a_midnight_datetime_still_round_trips(moment: datetime.datetime) -> None:
    """Refusing dates does not refuse a datetime at midnight, naive or aware."""
    encoded = CODEC.encode(Shipped(moment))
    assert CODEC.decode(encoded.type_name, encoded.payload) == Shipped(moment)


def test_a_short_datetime_text_from_another_writer_is_read() -> None:
    """Text with a time part, however short, is still a datetime."""
    payload = msgpack.packb({"on": "2024-02-29T01"})
    assert CODEC.decode("review.shipped", payload) == Shipped(datetime.datetime(2024, 2, 29, 1))
