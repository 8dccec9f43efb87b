"""A validator's refusal, which may repeat a value from the payload, is cut in a mismatch's text."""

from __future__ import annotations

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

REGISTRY = MessageRegistry()


@REGISTRY.message("review25.paint")
@attrs.frozen
class Paint:
    """A colour among a few."""

    color: str = attrs.field(validator=attrs.validators.in_(["red", "blue"]))


def test_a_validator_repeating_a_long_value_is_cut() -> None:
    """A 100 KB value echoed twice by attrs' in_() gives a short reason; the cause keeps it all."""
    value = "x" * 100_000
    with pytest.raises(MessageMismatch) as raised:
        Codec(REGISTRY).decode("review25.paint", msgpack.packb({"color": value}))
    text = str(raised.value)
    assert text.startswith(
        "payload for 'review25.paint' does not fit test_review25_validator_words.Paint: "
        "Paint refused the values: ValueError("
    )
    assert text.endswith("...")
    assert len(text) < 300
    assert value in str(raised.value.__cause__)
