"""Collections beyond list and dict (deque, OrderedDict, Counter, defaultdict) are read strictly."""

from __future__ import annotations

import collections
from typing import TypedDict

import attrs
import pytest
from test_review25_support import assert_refused, exactly

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()
CODEC = Codec(REGISTRY)
LABEL = "test_review25_collections"


@REGISTRY.message("review25.queue")
@attrs.frozen
class Queue:
    """A queue of names."""

    names: collections.deque[str]


@REGISTRY.message("review25.tallies")
@attrs.frozen
class Tallies:
    """Counts and ordered totals by name, and a default-filled index."""

    counts: collections.Counter[str]
    totals: collections.OrderedDict[str, int]
    index: collections.defaultdict[str, list[int]]


@REGISTRY.message("review25.by-number")
@attrs.frozen
class ByNumber:
    """An ordered dict with int keys, which msgpack writes but no codec reads back."""

    totals: collections.OrderedDict[int, int]


@REGISTRY.message("review25.count-numbers")
@attrs.frozen
class CountNumbers:
    """A counter of ints: keys no codec reads back."""

    counts: collections.Counter[int]


def test_a_deque_round_trips() -> None:
    """A deque field comes back a deque of the same items."""
    message = Queue(collections.deque(["ann", "bob"]))
    encoded = CODEC.encode(message)
    back = CODEC.decode(encoded.type_name, encoded.payload)
    assert back == message
    assert type(back.names) is collections.deque


@pytest.mark.parametrize(
    ("names", "shown"), [("abc", "'abc'"), ({"ann": "x"}, "{'ann': 'x'}"), (b"ab", "b'ab'")]
)
def test_a_deque_field_refuses_what_is_not_an_array(names: object, shown: str) -> None:
    """A str, a map or bytes in a deque field is refused, not iterated into items."""
    assert_refused(
        CODEC,
        "review25.queue",
        {"names": names},
        f"payload for 'review25.queue' does not fit {LABEL}.Queue: "
        f"field 'names' expected a list, got {shown}",
    )


def test_dict_subclasses_round_trip_as_their_class() -> None:
    """A Counter, an OrderedDict and a defaultdict come back as themselves."""
    index: collections.defaultdict[str, list[int]] = collections.defaultdict(list, {"a": [1]})
    message = Tallies(
        collections.Counter(["x", "x", "y"]), collections.OrderedDict([("b", 2), ("a", 1)]), index
    )
    encoded = CODEC.encode(message)
    back = CODEC.decode(encoded.type_name, encoded.payload)
    assert isinstance(back, Tallies)
    assert back == message
    assert type(back.counts) is collections.Counter
    assert type(back.totals) is collections.OrderedDict
    assert list(back.totals) == ["b", "a"]
    assert type(back.index) is collections.defaultdict
    assert back.index["new"] == []  # the value type is the default factory, as in cattrs


def test_a_dict_subclass_field_refuses_what_is_not_a_map() -> None:
    """An array where a Counter goes is named as a mismatch of that field."""
    assert_refused(
        CODEC,
        "review25.tallies",
        {"counts": [["x", 1]], "totals": {}, "index": {}},
        f"payload for 'review25.tallies' does not fit {LABEL}.Tallies: "
        "field 'counts' expected a map, got [['x', 1]]",
    )


def test_a_counter_refuses_a_value_that_is_not_an_int() -> None:
    """A Counter's values are ints, read strictly."""
    assert_refused(
        CODEC,
        "review25.tallies",
        {"counts": {"x": "1"}, "totals": {}, "index": {}},
        f"payload for 'review25.tallies' does not fit {LABEL}.Tallies: "
        "field 'counts[\"x\"]' expected int, got '1'",
    )


def test_an_ordered_dict_with_int_keys_is_refused_at_encode() -> None:
    """As for dict[int, int]: what no reader can take is refused by the sender, once."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(
            f"cannot encode {LABEL}.ByNumber: UnsupportedType('OrderedDict[int, int]: "
            "dict keys must be str or an enum of str values, not int')"
        ),
    ):
        CODEC.encode(ByNumber(collections.OrderedDict({1: 2})))


def test_a_counter_of_int_keys_is_refused_at_encode() -> None:
    """A Counter's key type follows the same rule as a dict's."""
    with pytest.raises(UnencodableMessage, match="dict keys must be str"):
        CODEC.encode(CountNumbers(collections.Counter([1, 1])))


class Totals(TypedDict):
    """A typed dict: a subclass of dict whose fields cattrs checks."""

    total: int


@REGISTRY.message("review25.with-typed-dict")
@attrs.frozen
class WithTypedDict:
    """A message holding a typed dict."""

    totals: Totals


def test_a_typed_dict_keeps_its_field_checks() -> None:
    """A TypedDict is a dict subclass, but is not read as a dict of anything."""
    assert_refused(
        CODEC,
        "review25.with-typed-dict",
        {"totals": {"total": "x"}},
        f"payload for 'review25.with-typed-dict' does not fit {LABEL}.WithTypedDict: "
        "field 'totals.total' expected int, got 'x'",
    )
