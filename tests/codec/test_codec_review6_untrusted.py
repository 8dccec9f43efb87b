"""A type name read from untrusted data is shown bounded when no type has it."""

from __future__ import annotations

import re

import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnknownMessageType

CODEC = Codec(MessageRegistry())
LONG = "app." + "x" * 100_000


def _unknown(shown: str) -> str:
    return f"^{re.escape(f'no message type is registered as {shown!r} in this process')}$"


def test_an_overlong_name_in_a_blob_is_cut_in_the_refusal() -> None:
    """A blob's name is payload: a megabyte of it is not a megabyte of dead-letter reason."""
    with pytest.raises(UnknownMessageType, match=_unknown(LONG[:252] + "...")):
        CODEC.decode_blob(msgpack.packb([LONG, {}]))


def test_an_overlong_name_given_to_decode_is_cut_in_the_refusal() -> None:
    """As from a transport's header: no name longer than 255 characters names a type."""
    with pytest.raises(UnknownMessageType, match=_unknown(LONG[:252] + "...")):
        CODEC.decode(LONG, msgpack.packb({}))


def test_an_unknown_name_of_the_longest_allowed_length_is_shown_whole() -> None:
    """A name that could be registered elsewhere (version skew) is shown as it came."""
    name = "app." + "y" * 251
    with pytest.raises(UnknownMessageType, match=_unknown(name)):
        CODEC.decode(name, msgpack.packb({}))
