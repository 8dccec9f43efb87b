"""A payload whose map has a key that is not a str is refused as such, not as broken msgpack."""

from __future__ import annotations

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MalformedPayload

REGISTRY = MessageRegistry()


@REGISTRY.message("review12.stock")
@attrs.frozen
class Stock:
    """Counts per item name."""

    counts: dict[str, int]


CODEC = Codec(REGISTRY)


@pytest.mark.parametrize(
    ("key", "kind"),
    [(7, "an int"), (1.5, "a float"), (None, "a nil"), (True, "a bool"), ((1,), "an array")],
)
def test_a_map_key_of_another_kind_is_named(key: object, kind: str) -> None:
    """Valid msgpack (another producer wrote int keys): the refusal says what the key was."""
    payload = msgpack.packb({"counts": {key: 1}})
    with pytest.raises(MalformedPayload) as refused:
        CODEC.decode("review12.stock", payload)
    assert str(refused.value) == (
        f"payload for 'review12.stock' is malformed: a map has {kind} key; only str keys are read"
    )


def test_a_map_key_of_another_kind_in_a_blob_is_named() -> None:
    """``decode_blob`` says the same of the blob's own maps."""
    blob = msgpack.packb(["review12.stock", {"counts": {7: 1}}])
    with pytest.raises(MalformedPayload) as refused:
        CODEC.decode_blob(blob)
    assert str(refused.value) == (
        "message blob is malformed: a map has an int key; only str keys are read"
    )
