"""msgpack extension values (the timestamp, ext type -1, and every other) are refused clearly."""

from __future__ import annotations

import datetime
import struct
import uuid

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest
from test_review25_support import assert_refused, exactly

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MalformedPayload, UndecodableMessage

REGISTRY = MessageRegistry()
CODEC = Codec(REGISTRY)
LABEL = "test_review26_extensions"
STAMP = msgpack.Timestamp(1, 5)
SHOWN = (
    "the msgpack timestamp extension (ext type -1) Timestamp(seconds=1, nanoseconds=5), "
    "which trouper never writes (it writes a datetime as ISO 8601 text)"
)


@REGISTRY.message("review26.stamped")
@attrs.frozen
class Stamped:
    """A datetime and two other fields a timestamp might be found in."""

    at: datetime.datetime
    count: int = 0
    id: uuid.UUID | None = None


def test_a_timestamp_in_a_datetime_field_is_refused_by_name() -> None:
    """A datetime field does not read the timestamp extension: trouper writes ISO text."""
    assert_refused(
        CODEC,
        "review26.stamped",
        {"at": STAMP},
        f"payload for 'review26.stamped' does not fit {LABEL}.Stamped: "
        f"field 'at' expected datetime (ISO 8601 text), got {SHOWN}",
    )


@pytest.mark.parametrize(
    ("field", "expected"),
    [("count", "int"), ("id", "UUID (8-4-4-4-12 hex digits text)")],
)
def test_a_timestamp_in_another_field_is_refused_by_name(field: str, expected: str) -> None:
    """Any field that meets a timestamp names it as the extension it is."""
    assert_refused(
        CODEC,
        "review26.stamped",
        {"at": "2024-01-01T00:00:00", field: STAMP},
        f"payload for 'review26.stamped' does not fit {LABEL}.Stamped: "
        f"field {field!r} expected {expected}, got {SHOWN}",
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("review26.stamped", f"does not fit {LABEL}.Stamped: expected a map of fields, got "),
        ("int", "does not fit int: expected int, got "),
        ("dict", "does not fit dict: expected a map, got "),
    ],
)
def test_a_timestamp_as_the_whole_payload_is_refused_by_name(name: str, problem: str) -> None:
    """A payload that is one timestamp is refused as a message or a builtin value."""
    assert_refused(CODEC, name, STAMP, f"payload for {name!r} {problem}{SHOWN}")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xc7\x03\xff\x00\x00\x01", "invalid timestamp data (length 3)"),
        (b"\xc7\x00\xff", "invalid timestamp data (length 0)"),
        (
            b"\xc7\x0c\xff" + struct.pack(">Iq", 2_000_000_000, 1),
            "nanoseconds must be a non-negative integer not greater than 999999999.",
        ),
    ],
    ids=["length-3", "length-0", "nanoseconds"],
)
def test_a_timestamp_extension_holding_no_timestamp_is_malformed(data: bytes, why: str) -> None:
    """Bytes tagged as a timestamp that hold none are malformed, and said to be a timestamp."""
    with pytest.raises(
        MalformedPayload,
        match=exactly(
            "payload for 'review26.stamped' is malformed: a msgpack timestamp extension "
            f"(ext type -1) that holds no timestamp ({why})"
        ),
    ):
        CODEC.decode("review26.stamped", b"\x81\xa2at" + data)


def test_a_timestamp_as_a_map_key_is_named() -> None:
    """A map keyed by a timestamp is refused naming the extension, as other non-str keys are."""
    with pytest.raises(
        MalformedPayload,
        match=exactly(
            "payload for 'dict' is malformed: a map has a msgpack timestamp extension "
            "(ext type -1) key; only str keys are read"
        ),
    ):
        CODEC.decode("dict", b"\x81" + msgpack.packb(STAMP) + b"\x01")


@pytest.mark.parametrize("size", [0, 1, 4, 8, 12, 16])
def test_no_extension_value_crashes_a_decode(size: int) -> None:
    """Every ext type, of every size, in a field or alone, is refused as undecodable."""
    for code in range(-128, 128):
        ext = b"\xc7" + struct.pack(">Bb", size, code) + bytes(range(size))
        for name, payload in [
            ("review26.stamped", b"\x81\xa2at" + ext),
            ("review26.stamped", b"\x82\xa2at\xa0\xa5count" + ext),
            ("list", b"\x91" + ext),
            ("int", ext),
        ]:
            with pytest.raises(UndecodableMessage):
                CODEC.decode(name, payload)
            with pytest.raises(UndecodableMessage):
                CODEC.decode_blob(msgpack.packb([name, None])[:-1] + payload)
