"""A codec keeps the tags and field policies it first read, in its detailed checks too.

A codec checks a payload with fast hooks, and builds detailed ones on the first
failure to say why. A class registered in between (after the codec first used
it) gave the two different union tags or field policies: the detailed hooks
accepted what the fast ones refused, and the refusal said only "it fits only
when checked in detail".
"""

from __future__ import annotations

import re

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

REGISTRY = MessageRegistry()


@attrs.frozen
class Dot:
    """A union member, registered only after the codec first used it."""

    x: int


@attrs.frozen
class Dash:
    """The other member, never registered."""

    y: int


@attrs.frozen
class Part:
    """A nested class, registered as lenient only after the codec first used it."""

    z: int


@REGISTRY.message("review6.drawing")
@attrs.frozen
class Drawing:
    """A tagged union and a nested class."""

    mark: Dot | Dash
    part: Part


CODEC = Codec(REGISTRY)
CODEC.encode(Drawing(Dot(1), Part(1)))  # the hooks are built: Dot's tag, Part's policy
REGISTRY.register(Dot, "review6.dot")
REGISTRY.register(Part, "review6.part", ignore_unknown_fields=True)
PREFIX = "payload for 'review6.drawing' does not fit test_codec_review6_late_registration.Drawing: "


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"mark": {"x": 1, "$type": "review6.dot"}, "part": {"z": 1}},
            "field 'mark' has '$type' 'review6.dot', expected one of "
            "'test_codec_review6_late_registration.Dot', "
            "'test_codec_review6_late_registration.Dash'",
        ),
        (
            {
                "mark": {"y": 1, "$type": "test_codec_review6_late_registration.Dash"},
                "part": {"z": 1, "w": 2},
            },
            "unexpected field 'part.w'",
        ),
    ],
    ids=["tag", "policy"],
)
def test_a_class_registered_after_first_use_is_refused_alike_in_detail(
    fields: dict[str, object], problem: str
) -> None:
    """The detailed check refuses what the fast one refused, and says why."""
    with pytest.raises(MessageMismatch, match=f"^{re.escape(PREFIX + problem)}$"):
        CODEC.decode("review6.drawing", msgpack.packb(fields))


def test_the_codec_still_reads_what_it_writes() -> None:
    """The tag it first read is the one it writes and reads."""
    message = Drawing(Dot(2), Part(3))
    encoded = CODEC.encode(message)
    assert CODEC.decode(encoded.type_name, encoded.payload) == message
