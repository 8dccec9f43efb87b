"""A value of a subclass of its field's type: written only if it comes back as it went."""

from __future__ import annotations

import datetime
import re

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()


@attrs.frozen
class Item:
    """A nested value, not registered."""

    sku: str


@attrs.frozen
class SpecialItem(Item):
    """A subclass with a field of its own."""

    gift: bool


@attrs.frozen
class Other:
    """An attrs class unrelated to ``Item``, with the same field."""

    sku: str


@REGISTRY.message("review5.moments")
@attrs.frozen
class Moments:
    """One field of each date and time type."""

    day: datetime.date = datetime.date(2024, 1, 1)
    at: datetime.datetime = datetime.datetime(2024, 1, 1, 12, 30)
    clock: datetime.time = datetime.time(12, 30)


@attrs.frozen
class Holder:
    """A nested value that holds an item."""

    inner: Item


@REGISTRY.message("review5.basket")
@attrs.frozen
class Basket:
    """Items in the places a nested attrs value can sit."""

    item: Item = Item("a")
    maybe: Item | None = None
    items: list[Item] = attrs.Factory(list)
    by_name: dict[str, Item] = attrs.Factory(dict)
    pair: tuple[Item, int] = (Item("a"), 1)
    either: Item | SpecialItem = Item("a")
    holder: Holder | None = None


CODEC = Codec(REGISTRY)
MOMENTS = "cannot encode test_codec_review5_subclasses.Moments: "
BASKET = "cannot encode test_codec_review5_subclasses.Basket: "
SUBCLASS = (
    "expected test_codec_review5_subclasses.Item, got its subclass "
    "test_codec_review5_subclasses.SpecialItem, whose own fields the field would drop "
    "(declare it as a union of both classes to carry either)"
)


def round_trip(message: object) -> object:
    encoded = CODEC.encode(message)
    return CODEC.decode(encoded.type_name, encoded.payload)


class MyDate(datetime.date):
    """A subclass of date that is not a datetime."""


def test_dates_and_times_of_their_field_type_round_trip() -> None:
    """A date, a datetime and a time, each in its own field, come back equal."""
    message = Moments()
    assert round_trip(message) == message


def test_a_date_subclass_that_is_not_a_datetime_comes_back_as_a_date() -> None:
    """As with a subclass of str or int: the value is kept, as the declared class."""
    decoded = round_trip(Moments(day=MyDate(2024, 2, 3)))
    assert isinstance(decoded, Moments)
    assert type(decoded.day) is datetime.date
    assert decoded.day == datetime.date(2024, 2, 3)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (
            Moments(day=datetime.datetime(2024, 1, 1, 12)),
            "field 'day': expected a date, got the datetime datetime.datetime(2024, 1, 1, 12, 0) "
            "(a date field cannot carry its time: pass its .date(), or declare the field "
            "datetime)",
        ),
        (
            Moments(at=datetime.date(2024, 1, 1)),  # type: ignore[arg-type]
            "field 'at': expected a datetime, got the date datetime.date(2024, 1, 1)",
        ),
        (
            Moments(clock=datetime.datetime(2024, 1, 1)),  # type: ignore[arg-type]
            "field 'clock': expected a time, got the datetime datetime.datetime(2024, 1, 1, 0, 0)",
        ),
        (
            Moments(day=datetime.time(1)),  # type: ignore[arg-type]
            "field 'day': expected a date, got the time datetime.time(1, 0)",
        ),
    ],
)
def test_a_date_or_time_of_another_kind_is_refused_at_encode(
    message: Moments, problem: str
) -> None:
    """Written, it would be refused by every reader; the sender hears of it, with the field."""
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(MOMENTS + problem)}$"):
        CODEC.encode(message)
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(MOMENTS + problem)}$"):
        CODEC.encode_blob(message)


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (Basket(item=SpecialItem("a", True)), "item"),
        (Basket(maybe=SpecialItem("a", True)), "maybe"),
        (Basket(items=[Item("a"), SpecialItem("b", True)]), "items[1]"),
        (Basket(by_name={"x": Item("a"), "y": SpecialItem("b", True)}), 'by_name["y"]'),
        (Basket(pair=(SpecialItem("b", True), 2)), "pair[0]"),
        (Basket(holder=Holder(SpecialItem("b", True))), "holder.inner"),
    ],
)
def test_a_subclass_of_a_declared_attrs_class_is_refused_at_encode(
    message: Basket, path: str
) -> None:
    """Its own fields would be lost and it would come back as the base: refused, named."""
    problem = f"{BASKET}field {path!r}: {SUBCLASS}"
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(problem)}$"):
        CODEC.encode(message)
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(problem)}$"):
        CODEC.encode_blob(message)


def test_an_unrelated_attrs_class_in_an_attrs_field_is_refused_at_encode() -> None:
    """Fields of the same names are not enough: it would come back as the declared class."""
    problem = (
        f"{BASKET}field 'item': expected test_codec_review5_subclasses.Item, "
        "got test_codec_review5_subclasses.Other"
    )
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(problem)}$"):
        CODEC.encode(Basket(item=Other("a")))  # type: ignore[arg-type]


def test_a_union_of_the_base_and_the_subclass_carries_either() -> None:
    """The one place a subclass may go: a union that names it."""
    for value in (Item("a"), SpecialItem("b", True)):
        decoded = round_trip(Basket(either=value))
        assert isinstance(decoded, Basket)
        assert type(decoded.either) is type(value)
        assert decoded.either == value


def test_nested_attrs_values_of_their_declared_class_round_trip() -> None:
    """The check lets exact classes through everywhere."""
    message = Basket(
        item=Item("a"),
        maybe=Item("b"),
        items=[Item("c"), Item("d")],
        by_name={"e": Item("e")},
        pair=(Item("f"), 3),
    )
    assert round_trip(message) == message


class ZonedDateTime(datetime.datetime):
    """A datetime whose isoformat adds its zone's name, as RFC 9557 does (``...+00:00[UTC]``)."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return f"{super().isoformat(sep, timespec)}[{self.tzname()}]"


def test_a_datetime_subclass_is_written_as_a_datetime_writes_itself() -> None:
    """Its own isoformat is not used, so its text is one every reader takes."""
    at = ZonedDateTime(2024, 1, 1, 12, tzinfo=datetime.UTC)
    decoded = round_trip(Moments(at=at))
    assert isinstance(decoded, Moments)
    assert type(decoded.at) is datetime.datetime
    assert decoded.at == at
    assert decoded.at.utcoffset() == datetime.timedelta(0)
