"""A value that contains itself is refused at encode, not walked for ever."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()


@REGISTRY.message("review2.note")
@attrs.frozen
class Note:
    """A message with a field of builtin values."""

    anything: Any


@REGISTRY.message("review2.grid")
@attrs.frozen
class Grid:
    """A message with nested lists."""

    rows: list[list[int]]


CODEC = Codec(REGISTRY)


def _looped_list() -> list[object]:
    looped: list[object] = []
    looped.append(looped)
    return looped


def _looped_dict() -> dict[str, object]:
    looped: dict[str, object] = {}
    looped["again"] = looped
    return looped


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "message",
    [
        Note(_looped_list()),
        Note(_looped_dict()),
        _looped_list(),
        Grid([_looped_list()]),  # type: ignore[list-item]
    ],
    ids=["any-list", "any-dict", "builtin-list", "typed-list"],
)
def test_a_value_that_contains_itself_is_unencodable(message: object) -> None:
    """``encode`` raises ``UnencodableMessage`` saying the value is nested too deeply."""
    with pytest.raises(UnencodableMessage, match=r"nested too deeply"):
        CODEC.encode(message)
    with pytest.raises(UnencodableMessage, match=r"nested too deeply"):
        CODEC.encode_blob(message)


@REGISTRY.message("review2.link")
@attrs.define
class Link:
    """A mutable message that can be made to hold itself."""

    following: Link | None = None


def test_an_instance_that_contains_itself_is_named_by_its_first_field() -> None:
    """The error names the field the loop starts at, on one short line."""
    link = Link()
    link.following = Link(link)
    with pytest.raises(
        UnencodableMessage,
        match=(
            r"^cannot encode test_codec_review2_cycles\.Link: field 'following': nested too "
            r"deeply \(does it contain itself\?\)$"
        ),
    ):
        CODEC.encode(link)
