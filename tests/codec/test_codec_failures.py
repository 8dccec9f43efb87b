"""Failures: what cannot be encoded or decoded raises a codec error saying which and why."""

from __future__ import annotations

import datetime
import os
import pickle
import re
from pathlib import Path
from typing import Any

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest
from codec_messages import REGISTRY, Charge, Everything, Item, PlaceOrder, Tree
from test_codec_round_trips import EVERYTHING

from trouper.codec import Codec, MessageRegistry
from trouper.errors import (
    MalformedPayload,
    MessageMismatch,
    UndecodableMessage,
    UnencodableMessage,
    UnknownMessageType,
    UnregisteredMessageType,
)

CODEC = Codec(REGISTRY)
CHARGE = {
    "order_id": "o-1",
    "total": 30,
    "rate": 1.5,
    "item": {"sku": "a", "qty": 2},
    "tags": ["x"],
    "note": None,
}
FITS = "payload for 'shop.charge' does not fit codec_messages.Charge: "


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


def charge_with(**changes: Any) -> bytes:
    """A ``shop.charge`` payload with fields changed (``...`` removes one)."""
    fields = dict(CHARGE)
    for name, value in changes.items():
        if value is ...:
            del fields[name]
        else:
            fields[name] = value
    return msgpack.packb(fields)  # type: ignore[no-any-return]


def everything_with(**changes: Any) -> bytes:
    """A ``kit.everything`` payload with fields changed."""
    fields = msgpack.unpackb(CODEC.encode(EVERYTHING).payload)
    fields.update(changes)
    return msgpack.packb(fields)  # type: ignore[no-any-return]


def test_unknown_type_name() -> None:
    """A name nobody registered is an ``UnknownMessageType``, an ``UndecodableMessage``."""
    with pytest.raises(
        UnknownMessageType,
        match=exactly("no message type is registered as 'shop.nope' in this process"),
    ) as caught:
        CODEC.decode("shop.nope", charge_with())
    assert isinstance(caught.value, UndecodableMessage)
    assert caught.value.type_name == "shop.nope"


def test_decoding_never_imports_a_module_named_by_the_data() -> None:
    """A name that looks like an importable class is still unknown."""
    with pytest.raises(UnknownMessageType):
        CODEC.decode("os.system", msgpack.packb({"command": "true"}))
    with pytest.raises(UnknownMessageType):
        CODEC.decode("codec_messages.Item", msgpack.packb({"sku": "a", "qty": 1}))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"total": "abc"}, "field 'total' expected int, got 'abc'"),
        ({"total": True}, "field 'total' expected int, got True"),
        ({"total": 1.5}, "field 'total' expected int, got 1.5"),
        ({"order_id": 5}, "field 'order_id' expected str, got 5"),
        ({"rate": "1.5"}, "field 'rate' expected float, got '1.5'"),
        ({"order_id": ...}, "missing field 'order_id'"),
        ({"amount": 5}, "unexpected field 'amount'"),
        (
            {"order_id": ..., "order_ref": "o-1"},
            "missing field 'order_id'; unexpected field 'order_ref'",
        ),
        (
            {"item": {"sku": 5, "qty": "z"}},
            "field 'item.sku' expected str, got 5; field 'item.qty' expected int, got 'z'",
        ),
        ({"item": {"sku": "a"}}, "missing field 'item.qty'"),
        ({"item": {"sku": "a", "qty": 1, "color": "red"}}, "unexpected field 'item.color'"),
        ({"item": [1]}, "field 'item' expected a map of fields, got [1]"),
        ({"tags": "abc"}, "field 'tags' expected a list, got 'abc'"),
        (
            {"tags": ["a", 5, "b", None]},
            "field 'tags[1]' expected str, got 5; field 'tags[3]' expected str, got None",
        ),
        ({"note": 5}, "field 'note' expected str, got 5"),
        ({"order_id": "x" * 100}, None),
    ],
    ids=lambda value: str(value)[:40],
)
def test_payload_that_does_not_fit_names_every_field(
    changes: dict[str, Any], problem: str | None
) -> None:
    """Each field that does not fit is named with what it expected and what it got, on one line."""
    if problem is None:  # a long value is fine
        assert isinstance(CODEC.decode("shop.charge", charge_with(**changes)), Charge)
        return
    with pytest.raises(MessageMismatch, match=exactly(FITS + problem)):
        CODEC.decode("shop.charge", charge_with(**changes))


def test_long_values_are_cut_in_the_message() -> None:
    """What came is shown cut to a short repr, so the reason stays one line."""
    with pytest.raises(
        MessageMismatch,
        match=exactly(FITS + "field 'total' expected int, got '" + "x" * 56 + "..."),
    ):
        CODEC.decode("shop.charge", charge_with(total="x" * 500))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"color": "purple"}, "field 'color' expected Color, got 'purple'"),
        ({"level": 7}, "field 'level' expected Level, got 7"),
        ({"level": "1"}, "field 'level' expected Level, got '1'"),
        ({"at": "yesterday"}, "field 'at' expected datetime (ISO 8601 text), got 'yesterday'"),
        ({"at": 1700000000.0}, "field 'at' expected datetime (ISO 8601 text), got 1700000000.0"),
        ({"day": "2024-02-30"}, "field 'day' expected date (ISO 8601 text), got '2024-02-30'"),
        (
            {"shape": {"side": 1.0}},
            "field 'shape' has no '$type' tag, expected one of 'shape.circle', 'shape.square'",
        ),
        (
            {"shape": {"side": 1.0, "$type": "shape.hexagon"}},
            "field 'shape' has '$type' 'shape.hexagon', "
            "expected one of 'shape.circle', 'shape.square'",
        ),
        (
            {"shape": {"side": "x", "$type": "shape.square"}},
            "field 'shape.side' expected float, got 'x'",
        ),
        ({"maybe_shape": 5}, "field 'maybe_shape' expected Circle | Square | None, got 5"),
        ({"number_or_text": 1.5}, "field 'number_or_text' expected int | str, got 1.5"),
        ({"number_or_text": False}, "field 'number_or_text' expected int | str, got False"),
        ({"pair": [1, "a", 2]}, "field 'pair' expected a list of 2 items, got [1, 'a', 2]"),
        ({"pair": [1, 2]}, "field 'pair[1]' expected str, got 2"),
        ({"many": [1, "x"]}, "field 'many[1]' expected int, got 'x'"),
        ({"tags": {"a": 1}}, "field 'tags' expected a list, got {'a': 1}"),
        ({"frozen": [1, "2"]}, "field 'frozen[1]' expected int, got '2'"),
        ({"prices": {"usd": "x"}}, "field 'prices[\"usd\"]' expected float, got 'x'"),
        ({"prices": ["usd"]}, "field 'prices' expected a map, got ['usd']"),
        ({"by_color": {"green": 1}}, "field 'by_color[\"green\"]' expected Color, got 'green'"),
        ({"blob": "text"}, "field 'blob' expected bytes, got 'text'"),
        ({"flag": 1}, "field 'flag' expected bool, got 1"),
        ({"items": [{"sku": "a", "qty": 1}, {"sku": "b"}]}, "missing field 'items[1].qty'"),
        ({"address": {"node": "n1", "path": 5}}, "field 'address.path' expected str, got 5"),
        (
            {"anything": [msgpack.Timestamp(1)]},
            "field 'anything[0]': the msgpack timestamp extension (ext type -1), which trouper "
            "never writes, is not a builtin value",
        ),
        (
            {"anything": {"k": {b"raw": 1}}},
            "field 'anything[\"k\"]': a dict key is b'raw', not a str",
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_every_shape_says_what_it_expected(changes: dict[str, Any], problem: str) -> None:
    """Enums, datetimes, unions, tuples, sets, dicts, bytes, bools, Any: each failure is named."""
    with pytest.raises(
        MessageMismatch,
        match=exactly(
            "payload for 'kit.everything' does not fit codec_messages.Everything: " + problem
        ),
    ):
        CODEC.decode("kit.everything", everything_with(**changes))


def test_a_payload_that_is_not_a_map() -> None:
    """A class's payload must be a map of its fields."""
    with pytest.raises(
        MessageMismatch, match=exactly(FITS + "expected a map of fields, got [1, 2]")
    ):
        CODEC.decode("shop.charge", msgpack.packb([1, 2]))


def test_the_class_may_refuse_the_values() -> None:
    """A validator's error is reported and chained."""
    with pytest.raises(
        MessageMismatch,
        match=exactly(
            "payload for 'shop.refund' does not fit codec_messages.Refund: "
            "Refund refused the values: ValueError('total must be positive, got -5')"
        ),
    ) as caught:
        CODEC.decode("shop.refund", msgpack.packb({"total": -5}))
    assert isinstance(caught.value.__cause__, ValueError)


def test_too_deep_a_payload_is_refused() -> None:
    """A recursive class nested deeper than Python can follow is a mismatch, not a crash."""
    node = (
        b"\x82"
        + msgpack.packb("label")
        + msgpack.packb("node")
        + msgpack.packb("children")
        + b"\x91"
    )
    leaf = msgpack.packb({"label": "leaf", "children": []})
    payload = node * 450 + leaf  # within msgpack's nesting limit, past Python's
    with pytest.raises(MessageMismatch, match=r"nested too deeply$"):
        CODEC.decode("kit.tree", payload)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"", "not valid msgpack (it ends too soon)"),
        (b"\xa3ab", "not valid msgpack (it ends too soon)"),
        (b"\xc1", "not valid msgpack (a byte that starts no value)"),
        (msgpack.packb(1) + b"x", "not valid msgpack (bytes left over after the value)"),
        (b"\x91" * 3000 + b"\xc0", "not valid msgpack (nested too deeply)"),
        (
            msgpack.packb({1: "int key"}),
            "a map has an int key; only str keys are read",
        ),
        (
            msgpack.packb(msgpack.ExtType(5, b"xx")),
            "a msgpack extension value (ext type 5, 2 bytes), which trouper never writes",
        ),
        (
            b"\xa2\xff\xfe",
            "not valid msgpack (UnicodeDecodeError(\"'utf-8' codec can't decode byte 0xff "
            'in position 0: invalid start byte"))',
        ),
    ],
    ids=["empty", "short", "reserved-byte", "extra", "deep", "int-key", "extension", "utf8"],
)
def test_bytes_that_are_not_msgpack_are_malformed(payload: bytes, problem: str) -> None:
    """What msgpack cannot read is a ``MalformedPayload`` saying why."""
    with pytest.raises(
        MalformedPayload, match=exactly(f"payload for 'shop.charge' is malformed: {problem}")
    ):
        CODEC.decode("shop.charge", payload)


class Boom:
    """Unpickling this would leave a mark on the file system."""

    def __init__(self, mark: str) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple[Any, tuple[str, ...]]:
        return (Path(self.mark).touch, ())


def test_a_pickle_is_never_unpickled(tmp_path: Path) -> None:
    """A payload crafted as a pickle is refused as malformed, and nothing of it runs."""
    mark = tmp_path / "unpickled"
    crafted = pickle.dumps(Boom(str(mark)))
    with pytest.raises(MalformedPayload):
        CODEC.decode("shop.charge", crafted)
    with pytest.raises(MalformedPayload):
        CODEC.decode_blob(crafted)
    assert not mark.exists()
    assert not os.path.exists(mark)


@pytest.mark.parametrize(
    ("blob", "error", "message"),
    [
        (
            b"\xc1",
            MalformedPayload,
            "message blob is malformed: not valid msgpack (a byte that starts no value)",
        ),
        (
            msgpack.packb({"a": 1}),
            MalformedPayload,
            "message blob is malformed: expected [type name, fields], got {'a': 1}",
        ),
        (
            msgpack.packb(["shop.charge"]),
            MalformedPayload,
            "message blob is malformed: expected [type name, fields], got ['shop.charge']",
        ),
        (
            msgpack.packb([5, {}]),
            MalformedPayload,
            "message blob is malformed: expected [type name, fields], got [5, {}]",
        ),
        (
            msgpack.packb(["shop.nope", {}]),
            UnknownMessageType,
            "no message type is registered as 'shop.nope' in this process",
        ),
        (
            msgpack.packb(["shop.charge", {**CHARGE, "total": "abc"}]),
            MessageMismatch,
            FITS + "field 'total' expected int, got 'abc'",
        ),
    ],
    ids=["not-msgpack", "map", "one-item", "int-name", "unknown", "mismatch"],
)
def test_blobs_fail_like_payloads(blob: bytes, error: type[Exception], message: str) -> None:
    """``decode_blob`` raises the same family, with ``type_name`` ``None`` when no name was read."""
    with pytest.raises(error, match=exactly(message)):
        CODEC.decode_blob(blob)


@pytest.mark.parametrize(
    ("name", "payload", "problem"),
    [
        ("int", msgpack.packb("1"), "payload for 'int' does not fit int: expected int, got '1'"),
        ("int", msgpack.packb(True), "payload for 'int' does not fit int: expected int, got True"),
        ("bool", msgpack.packb(0), "payload for 'bool' does not fit bool: expected bool, got 0"),
        (
            "none",
            msgpack.packb(0),
            "payload for 'none' does not fit NoneType: expected None, got 0",
        ),
        ("str", msgpack.packb(b"x"), "payload for 'str' does not fit str: expected str, got b'x'"),
        (
            "list",
            msgpack.packb({}),
            "payload for 'list' does not fit list: expected a list, got {}",
        ),
        (
            "list",
            msgpack.packb([1, [msgpack.Timestamp(0)]]),
            "payload for 'list' does not fit list: at [1][0]: the msgpack timestamp extension "
            "(ext type -1), which trouper never writes, is not a builtin value",
        ),
        (
            "dict",
            msgpack.packb({"a": {b"k": 1}}),
            "payload for 'dict' does not fit dict: at [\"a\"]: a dict key is b'k', not a str",
        ),
    ],
    ids=[
        "int-str",
        "int-bool",
        "bool-int",
        "none",
        "str-bytes",
        "list-map",
        "list-ext",
        "dict-key",
    ],
)
def test_builtin_payloads_are_checked_too(name: str, payload: bytes, problem: str) -> None:
    """A builtin value's payload must be of exactly its type, with builtin values inside."""
    with pytest.raises(MessageMismatch, match=exactly(problem)):
        CODEC.decode(name, payload)


def test_encoding_an_unregistered_class_is_refused() -> None:
    """A codec never registers a class on its own: it names the decorator instead."""
    with pytest.raises(
        UnregisteredMessageType,
        match=exactly(
            "codec_messages.Item is not a registered message type: decorate it with "
            "@trouper.message(name) or call trouper.register(cls)"
        ),
    ):
        CODEC.encode(Item("a", 1))
    assert Item not in REGISTRY


def test_subclasses_of_builtins_are_not_builtin_values() -> None:
    """A tuple or a str enum is not a message by itself (it would not come back as itself)."""
    for value in ((1, 2), datetime.date(2024, 1, 1)):
        with pytest.raises(UnregisteredMessageType):
            CODEC.encode(value)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ([1, (2, 3)], "cannot encode list: at [1]: tuple is not a builtin value"),
        ({"a": {1: 2}}, 'cannot encode dict: at ["a"]: a dict key is 1, not a str'),
        ([object()], "cannot encode list: at [0]: object is not a builtin value"),
        (2**64, "cannot encode int: 18446744073709551616 is out of msgpack's integer range"),
        (
            attrs.evolve(EVERYTHING, at=datetime.timedelta(1)),  # type: ignore[arg-type]
            "cannot encode codec_messages.Everything: "
            "field 'at': expected a date or time, got datetime.timedelta(days=1)",
        ),
        (
            attrs.evolve(EVERYTHING, anything=[(1, 2)]),
            "cannot encode codec_messages.Everything: "
            "field 'anything[0]': tuple is not a builtin value",
        ),
        (
            attrs.evolve(EVERYTHING, items=[Item("a", 2**70)]),
            "cannot encode codec_messages.Everything: "
            "field 'items[0].qty': 1180591620717411303424 is out of msgpack's integer range",
        ),
        (
            attrs.evolve(EVERYTHING, blob=object()),  # type: ignore[arg-type]
            "cannot encode codec_messages.Everything: field 'blob': cannot encode a object",
        ),
        (
            attrs.evolve(EVERYTHING, shape=Item("a", 1)),  # type: ignore[arg-type]
            "cannot encode codec_messages.Everything: "
            "field 'shape': expected Circle | Square, got Item(sku='a', qty=1)",
        ),
    ],
    ids=[
        "tuple",
        "int-key",
        "object",
        "big-int",
        "timedelta",
        "any-tuple",
        "nested-big",
        "object-field",
        "union",
    ],
)
def test_what_cannot_be_encoded_is_named(message: object, problem: str) -> None:
    """``UnencodableMessage`` names the field and the problem."""
    with pytest.raises(UnencodableMessage, match=exactly(problem)):
        CODEC.encode(message)
    with pytest.raises(UnencodableMessage, match=exactly(problem)):
        CODEC.encode_blob(message)


def test_unsupported_field_types_are_named() -> None:
    """A field type the codec cannot carry is refused when the class is first encoded or decoded."""

    @attrs.frozen
    class Odd:
        by_number: dict[int, str]

    registry = MessageRegistry()
    registry.register(Odd, "app.odd")
    codec = Codec(registry)
    with pytest.raises(
        UnencodableMessage,
        match=exactly(
            "cannot encode test_codec_failures.test_unsupported_field_types_are_named."
            "<locals>.Odd: "
            "UnsupportedType('dict[int, str]: dict keys must be str or an enum of str values, "
            "not int')"
        ),
    ):
        codec.encode(Odd({1: "a"}))
    with pytest.raises(
        UndecodableMessage,
        match=exactly(
            "payload for 'app.odd' cannot be decoded: test_codec_failures."
            "test_unsupported_field_types_are_named.<locals>.Odd has a field the codec cannot "
            "read: UnsupportedType('dict[int, str]: dict keys must be str or an enum of str "
            "values, not int')"
        ),
    ):
        codec.decode("app.odd", msgpack.packb({"by_number": {}}))


def test_failures_leave_the_codec_working() -> None:
    """After any failure the same codec still encodes and decodes."""
    with pytest.raises(MessageMismatch):
        CODEC.decode("shop.charge", charge_with(total="abc"))
    with pytest.raises(UnencodableMessage):
        CODEC.encode([object()])
    encoded = CODEC.encode(PlaceOrder("o-1", 1))
    assert CODEC.decode(encoded.type_name, encoded.payload) == PlaceOrder("o-1", 1)
    assert isinstance(CODEC.decode("kit.tree", msgpack.packb({"label": "x", "children": []})), Tree)
    assert isinstance(CODEC.decode("kit.everything", everything_with()), Everything)
