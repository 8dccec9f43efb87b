"""A refusal of untrusted data is bounded: an unknown name is cut, unexpected fields counted."""

from __future__ import annotations

import gc
import re
import sys

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch, UnknownMessageType

REGISTRY = MessageRegistry()
CODEC = Codec(MessageRegistry())
STRICT = Codec(REGISTRY)
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


@REGISTRY.message("review6.small")
@attrs.frozen
class Small:
    """A class with one field: every other key of a payload is unexpected."""

    a: int = 0


def _calls_to_refuse(payload: bytes) -> int:
    """How many Python functions run while the codec refuses ``payload``.

    The garbage collector is off meanwhile: a collection would run the finalizers
    of whatever earlier tests left behind, and they would be counted too.
    """
    calls = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    collecting = gc.isenabled()
    gc.disable()
    sys.setprofile(profile)
    try:
        with pytest.raises(MessageMismatch):
            STRICT.decode("review6.small", payload)
    finally:
        sys.setprofile(None)
        if collecting:
            gc.enable()
    return calls


def test_naming_unexpected_fields_costs_the_same_for_a_hundred_or_a_hundred_thousand() -> None:
    """Only the first twenty are named, so only they are sorted out and written (mixed keys too)."""

    def fields(count: int) -> bytes:
        keys: dict[str | bytes, int] = {f"k{i:06}": 0 for i in range(count)}
        keys.update({f"b{i:06}".encode(): 0 for i in range(count)})
        packed: bytes = msgpack.packb(keys)
        return packed

    _calls_to_refuse(fields(1))  # (the first refusal builds the detailed hooks)
    assert _calls_to_refuse(fields(100_000)) == _calls_to_refuse(fields(100))
