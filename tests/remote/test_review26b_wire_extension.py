"""``wire.unpack`` names a msgpack extension value: valid msgpack, which trouper never writes."""

from __future__ import annotations

import pytest

from trouper.remote.wire import WireError, pack, unpack


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\xd4\x01\x00", "ext type 1, 1 bytes"),
        (pack(["watch", "web"])[:-4] + b"\xc7\x03\x05abc", "ext type 5, 3 bytes"),
    ],
)
def test_an_extension_value_is_named_as_one_trouper_never_writes(data: bytes, what: str) -> None:
    """Not "ValueError('msgpack extension type 5 is not allowed')": the value is valid msgpack."""
    with pytest.raises(WireError) as caught:
        unpack(data)
    assert str(caught.value) == (
        f"not a trouper control message (a msgpack extension value ({what}), "
        "which trouper never writes)"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"\xd6\xff\x00\x00\x00\x00",  # 4 bytes: seconds
        b"\x92\xa5watch\xd7\xff" + bytes(8),  # 8 bytes, in an array
        b"\x81\xa1t\xc7\x0c\xff" + bytes(12),  # 12 bytes, a map's value
    ],
)
def test_a_timestamp_is_refused_as_an_extension_trouper_never_writes(data: bytes) -> None:
    """msgpack reads ext type -1 itself (not through the hook), so it was returned as a value."""
    with pytest.raises(WireError) as caught:
        unpack(data)
    assert str(caught.value) == (
        "not a trouper control message (a msgpack timestamp extension (ext type -1), "
        "which trouper never writes)"
    )


def test_bytes_that_merely_look_like_a_timestamp_are_read() -> None:
    """A bin value holding a timestamp's bytes is a plain value: no timestamp was read."""
    data = pack(["watch", b"\xd6\xff\x00\x00\x00\x00"])
    assert unpack(data) == ["watch", b"\xd6\xff\x00\x00\x00\x00"]
