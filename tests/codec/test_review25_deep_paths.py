"""A misfit deep in a nested payload is placed by a path of bounded length."""

from __future__ import annotations

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

REGISTRY = MessageRegistry()
CODEC = Codec(REGISTRY)
KEY = "k" * 60
STEP = 'children["' + "k" * 56 + "...]"  # a key is cut as a value is


@REGISTRY.message("review25.tree")
@attrs.frozen
class Tree:
    """A value with named subtrees."""

    value: int
    children: dict[str, Tree] = attrs.Factory(dict)


def nested(depth: int, leaf: object) -> bytes:
    """A tree ``depth`` levels deep along one long key, whose last value is ``leaf``."""
    payload: dict[str, object] = {"value": leaf}
    for _ in range(depth):
        payload = {"value": 1, "children": {KEY: payload}}
    return msgpack.packb(payload)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("depth", "leaf"), [(100, "x"), (400, 1)])
def test_a_deep_path_is_cut_in_the_middle(depth: int, leaf: object) -> None:
    """The path keeps its start and its end, whatever the depth (misfit or too deep)."""
    with pytest.raises(MessageMismatch) as raised:
        CODEC.decode("review25.tree", nested(depth, leaf))
    text = str(raised.value)
    assert len(text) < 500
    prefix = "payload for 'review25.tree' does not fit test_review25_deep_paths.Tree: field '"
    assert text.startswith(prefix + STEP + "." + STEP)
    assert " ... " in text
    if leaf == "x":
        assert text.endswith(f"{STEP}.value' expected int, got 'x'")
    else:
        assert text.endswith(".children': nested too deeply")


def test_a_short_path_is_whole() -> None:
    """A path within the bound is shown as it is."""
    with pytest.raises(MessageMismatch) as raised:
        CODEC.decode("review25.tree", nested(2, "x"))
    assert str(raised.value).endswith(f"field '{STEP}.{STEP}.value' expected int, got 'x'")
