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
