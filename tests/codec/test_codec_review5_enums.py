"""An enum field writes only members of its own enum."""

from __future__ import annotations

import enum
import re

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()


class Color(enum.Enum):
    """The field's enum."""

    RED = "red"


class Shade(enum.Enum):
    """Another enum with a member of the same value."""

    RED = "red"


class Level(enum.IntEnum):
    """An int enum."""

    LOW = 1


@REGISTRY.message("review5.paint")
@attrs.frozen
class Paint:
    """Enums in a field and as dict keys."""

    color: Color = Color.RED
    level: Level = Level.LOW
    by_color: dict[Color, int] = attrs.Factory(dict)


CODEC = Codec(REGISTRY)
PREFIX = "cannot encode test_codec_review5_enums.Paint: "


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (Paint(color=Shade.RED), "field 'color': expected Color, got <Shade.RED: 'red'>"),  # type: ignore[arg-type]
        (Paint(level=1), "field 'level': expected Level, got 1"),  # type: ignore[arg-type]
        (
            Paint(by_color={Shade.RED: 1}),  # type: ignore[dict-item]
            "field 'by_color': expected Color, got <Shade.RED: 'red'>",
        ),
    ],
)
def test_a_member_of_another_enum_is_refused_at_encode(message: Paint, problem: str) -> None:
    """Written as its value, it would come back as the field's member of that value."""
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(PREFIX + problem)}$"):
        CODEC.encode(message)


def test_members_of_the_fields_enums_round_trip() -> None:
    """Fields and keys come back as the members they were."""
    message = Paint(Color.RED, Level.LOW, {Color.RED: 2})
    encoded = CODEC.encode(message)
    decoded = CODEC.decode(encoded.type_name, encoded.payload)
    assert decoded == message
    assert isinstance(decoded, Paint)
    assert type(decoded.level) is Level
