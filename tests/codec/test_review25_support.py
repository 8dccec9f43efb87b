"""What the review25 codec tests share (this module holds no test of its own)."""

from __future__ import annotations

import re
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec
from trouper.errors import MessageMismatch


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return "^" + re.escape(text) + "$"


def assert_refused(codec: Codec, type_name: str, payload: Any, text: str) -> None:
    """Assert that ``codec`` refuses ``payload`` (packed) as ``type_name`` with exactly ``text``."""
    with pytest.raises(MessageMismatch, match=exactly(text)):
        codec.decode(type_name, msgpack.packb(payload))
