"""Round trips: every supported shape comes back equal, encoded as the docs say."""

from __future__ import annotations

import datetime
import math
import typing
from typing import Any

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest
from codec_messages import (
    REGISTRY,
    Charge,
    Circle,
    Color,
    Everything,
    Item,
    Level,
    PlaceOrder,
    Square,
    Tolerant,
    Tree,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from trouper import Address
from trouper.codec import Codec, Encoded, MessageRegistry

CODEC = Codec(REGISTRY)

EVERYTHING = Everything(
    color=Color.BLUE,
    level=Level.HIGH,
    at=datetime.datetime(
        2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    ),
    day=datetime.date(2024, 2, 29),
    shape=Square(2.0),
    maybe_shape=None,
    number_or_text="seven",
    pair=(1, "one"),
    many=(1, 2, 3),
    tags={"a", "b"},
    frozen=frozenset({1, 2}),
    prices={"usd": 1.5, "eur": 2.0},
    by_color={Color.RED: 1},
    blob=b"\x00\xff",
    flag=True,
    items=[Item("a", 1), Item("b", 2)],
    address=Address("n1", "/bank/acct-1"),
    anything={"k": [1, 2.5, None, b"x", {"deep": True}]},
)


def round_trip(message: object, codec: Codec = CODEC) -> object:
    """Encode then decode ``message``, both ways of doing it, and check they agree."""
    encoded = codec.encode(message)
    assert isinstance(encoded.payload, bytes)
    back = codec.decode(encoded.type_name, encoded.payload)
    assert codec.decode_blob(codec.encode_blob(message)) == back
    return back


def test_small_message_round_trips() -> None:
    """A two-field message comes back equal, under its registered name."""
    assert CODEC.encode(PlaceOrder("o-1", 30)).type_name == "shop.place-order"
    assert round_trip(PlaceOrder("o-1", 30)) == PlaceOrder("o-1", 30)


def test_payload_is_a_msgpack_map_of_field_names() -> None:
    """The payload is msgpack: a map from field names to builtin values, nested classes as maps."""
    encoded = CODEC.encode(Charge("o-1", 30, 1.5, Item("a", 2), ["x"]))
    assert encoded == Encoded("shop.charge", encoded.payload)
    assert msgpack.unpackb(encoded.payload) == {
        "order_id": "o-1",
        "total": 30,
        "rate": 1.5,
        "item": {"sku": "a", "qty": 2},
        "tags": ["x"],
        "note": None,
    }


def test_blob_is_name_and_fields() -> None:
    """``encode_blob`` writes one msgpack array: the type name, then the fields."""
    blob = CODEC.encode_blob(PlaceOrder("o-1", 30))
    assert msgpack.unpackb(blob) == ["shop.place-order", {"order_id": "o-1", "total": 30}]


def test_every_supported_shape_round_trips() -> None:
    """Enums, datetimes, unions, tuples, sets, dicts, bytes, nested lists, addresses, Any."""
    back = round_trip(EVERYTHING)
    assert back == EVERYTHING
    assert isinstance(back, Everything)
    assert type(back.pair) is tuple
    assert type(back.frozen) is frozenset
    assert back.at.utcoffset() == datetime.timedelta(hours=2)


def test_union_members_carry_their_registered_name_as_tag() -> None:
    """A union of attrs classes is tagged with ``$type``; a single class needs no tag."""
    data = msgpack.unpackb(CODEC.encode(EVERYTHING).payload)
    assert data["shape"] == {"side": 2.0, "$type": "shape.square"}
    assert data["items"][0] == {"sku": "a", "qty": 1}


def test_naive_datetimes_stay_naive() -> None:
    """Datetimes are ISO 8601 text: naive ones come back naive, to the microsecond."""
    moment = datetime.datetime(2001, 2, 3, 4, 5, 6, 7)
    back = round_trip(attrs.evolve(EVERYTHING, at=moment))
    assert isinstance(back, Everything)
    assert back.at == moment
    assert back.at.tzinfo is None
    assert msgpack.unpackb(CODEC.encode(back).payload)["at"] == "2001-02-03T04:05:06.000007"


@REGISTRY.message("test.alarm")
@attrs.frozen
class Alarm:
    """A message with a time of day."""

    at: datetime.time
    days: list[datetime.date]


def test_times_and_dates_round_trip() -> None:
    """Times of day (with their offset) and dates are ISO 8601 text too."""
    alarm = Alarm(datetime.time(6, 30, 0, 15, tzinfo=datetime.UTC), [datetime.date(2024, 1, 1)])
    assert round_trip(alarm) == alarm
    assert msgpack.unpackb(CODEC.encode(alarm).payload) == {
        "at": "06:30:00.000015+00:00",
        "days": ["2024-01-01"],
    }


@pytest.mark.parametrize(
    "offset",
    [
        datetime.timedelta(microseconds=1),
        -datetime.timedelta(microseconds=250),
        datetime.timedelta(hours=-3, seconds=-1, microseconds=-5),
    ],
    ids=["plus-1us", "minus-250us", "hours-seconds-and-us"],
)
def test_an_offset_with_a_fraction_of_a_second_round_trips(offset: datetime.timedelta) -> None:
    """A UTC offset under a second (which CPython 3.11 reads back as UTC) keeps its value."""
    zone = datetime.timezone(offset)
    moment = datetime.datetime(2000, 1, 1, 12, 0, 0, 5, tzinfo=zone)
    back = round_trip(attrs.evolve(EVERYTHING, at=moment))
    assert isinstance(back, Everything)
    assert (back.at, back.at.utcoffset()) == (moment, offset)
    alarm = Alarm(datetime.time(6, 30, tzinfo=zone), [])
    assert round_trip(alarm) == alarm


def test_a_recursive_class_round_trips() -> None:
    """A class that contains itself is encoded and decoded to any depth the data has."""
    tree = Tree("root", [Tree("a", [Tree("a1")]), Tree("b")])
    assert round_trip(tree) == tree


def test_unknown_fields_are_dropped_when_the_type_says_so() -> None:
    """A type registered with ``ignore_unknown_fields=True`` decodes payloads with extra fields."""
    payload = msgpack.packb({"order_id": "o-1", "total": 3, "added_later": [1, 2]})
    assert CODEC.decode("shop.tolerant", payload) == Tolerant("o-1", 3)


def test_a_field_with_a_default_may_be_missing() -> None:
    """A payload written before a field with a default was added decodes with the default."""
    payload = msgpack.packb(
        {"order_id": "o-1", "total": 30, "rate": 1.0, "item": {"sku": "a", "qty": 1}, "tags": []}
    )
    assert CODEC.decode("shop.charge", payload) == Charge("o-1", 30, 1.0, Item("a", 1), [])


def test_ints_are_accepted_for_floats() -> None:
    """A float field takes an int (a field widened from int to float keeps its old rows)."""
    payload = msgpack.packb({"radius": 2})
    back = CODEC.decode("shape.circle", payload)
    assert back == Circle(2.0)
    assert isinstance(back, Circle)
    assert type(back.radius) is float


builtin_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=20,
)


BUILTIN_NAMES = {
    type(None): "none",
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bytes",
    list: "list",
    dict: "dict",
}


@given(builtin_values)
def test_builtin_values_round_trip(value: object) -> None:
    """Any tree of builtin values is a message, under its reserved name."""
    encoded = CODEC.encode(value)
    assert encoded.type_name == BUILTIN_NAMES[type(value)]
    back = CODEC.decode(encoded.type_name, encoded.payload)
    assert back == value
    assert type(back) is type(value)


def test_nan_round_trips() -> None:
    """NaN is a float like any other."""
    encoded = CODEC.encode(math.nan)
    back = CODEC.decode(encoded.type_name, encoded.payload)
    assert encoded.type_name == "float"
    assert isinstance(back, float)
    assert math.isnan(back)


FLOATS = st.floats(allow_nan=False)

OFFSETS = st.builds(
    datetime.timezone,
    st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)),
)

FIELD_TYPES: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "int": (int, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    "float": (float, st.floats(allow_nan=False)),
    "str": (str, st.text()),
    "bytes": (bytes, st.binary()),
    "bool": (bool, st.booleans()),
    "optional_str": (str | None, st.none() | st.text()),
    "list_int": (list[int], st.lists(st.integers(min_value=0, max_value=2**32))),
    "tuple": (tuple[str, int], st.tuples(st.text(), st.integers(min_value=0, max_value=9))),
    "dict": (dict[str, list[str]], st.dictionaries(st.text(), st.lists(st.text()))),
    "set": (frozenset[str], st.frozensets(st.text())),
    "color": (Color, st.sampled_from(Color)),
    "level": (Level, st.sampled_from(Level)),
    # Fixed offsets: a named zone comes back as its offset, which compares unequal
    # to it in a fold or gap (PEP 495); test_a_named_zone_comes_back_as_its_offset.
    "when": (datetime.datetime, st.datetimes(timezones=st.none() | OFFSETS)),
    "item": (Item, st.builds(Item, st.text(), st.integers(min_value=0, max_value=100))),
    "shape": (
        Circle | Square,
        st.builds(Circle, FLOATS) | st.builds(Square, FLOATS),
    ),
    "address": (Address, st.builds(Address, st.text(), st.text())),
}  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.datetimes(timezones=st.timezones()))
def test_a_named_zone_comes_back_as_its_offset(moment: datetime.datetime) -> None:
    """A ``ZoneInfo`` datetime comes back as the same instant, wall time and UTC offset."""
    back = round_trip(attrs.evolve(EVERYTHING, at=moment))
    assert isinstance(back, Everything)
    assert back.at.replace(tzinfo=None) == moment.replace(tzinfo=None, fold=0)
    assert back.at.utcoffset() == moment.utcoffset()
    assert back.at.timestamp() == moment.timestamp()


@st.composite
def generated_messages(draw: st.DrawFn) -> tuple[Codec, object]:
    """A new attrs class with some of the field types above, in a new registry, and a value."""
    chosen = draw(
        st.lists(st.sampled_from(sorted(FIELD_TYPES)), min_size=1, max_size=5, unique=True)
    )
    cls = attrs.make_class(
        "Generated", {name: attrs.field(type=FIELD_TYPES[name][0]) for name in chosen}, frozen=True
    )
    registry = MessageRegistry()
    registry.register(cls, "test.generated")
    values = {name: draw(FIELD_TYPES[name][1]) for name in chosen}
    return Codec(registry), cls(**values)


@settings(max_examples=60, deadline=None)
@given(generated_messages())
def test_generated_attrs_messages_round_trip(case: tuple[Codec, object]) -> None:
    """Classes built from random field types round-trip random values."""
    codec, message = case
    assert round_trip(message, codec) == message


def test_the_codec_keeps_no_state_between_messages() -> None:
    """Decoding the same bytes twice gives equal, separate messages."""
    encoded = CODEC.encode(Charge("o-1", 30, 1.5, Item("a", 2), ["x"]))
    first = CODEC.decode(encoded.type_name, encoded.payload)
    second = CODEC.decode(encoded.type_name, encoded.payload)
    assert first == second
    assert first is not second
    assert isinstance(first, Charge)
    assert isinstance(second, Charge)
    assert first.tags is not second.tags


def test_payload_may_be_any_buffer() -> None:
    """``decode`` reads bytes, bytearray and memoryview alike (a transport's slices)."""
    encoded = CODEC.encode(PlaceOrder("o-1", 30))
    for payload in (bytearray(encoded.payload), memoryview(b"xx" + encoded.payload)[2:]):
        assert CODEC.decode("shop.place-order", payload) == PlaceOrder("o-1", 30)


def test_registries_do_not_mix() -> None:
    """A codec over another registry does not know the shared types."""
    assert "shop.charge" not in Codec(MessageRegistry()).registry
    assert typing.get_type_hints(Everything)["shape"] == Circle | Square
