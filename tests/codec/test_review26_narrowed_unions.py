"""A union narrowed to one class (``A | B`` to ``A | None``) still reads rows tagged with ``A``."""

from __future__ import annotations

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest
from test_review25_support import assert_refused, exactly

from trouper.codec import Codec, MessageRegistry
from trouper.errors import MessageMismatch

OLD = MessageRegistry()
NEW = MessageRegistry()
LABEL = "test_review26_narrowed_unions"


@attrs.frozen
class Circle:
    """The member the field keeps."""

    radius: float


@attrs.frozen
class Square:
    """The member the field dropped."""

    side: float


@attrs.frozen
class OldDrawing:
    """Before: a tagged union of two classes."""

    shape: Circle | Square
    shapes: list[Circle | Square] = attrs.field(factory=list)


@attrs.frozen
class NewDrawing:
    """After: the same name, the union narrowed to one class and None."""

    shape: Circle | None
    shapes: list[Circle | int | None] = attrs.field(factory=list)


for registry in (OLD, NEW):
    registry.register(Circle, "review26.circle")
    registry.register(Square, "review26.square")
OLD.register(OldDrawing, "review26.drawing")
NEW.register(NewDrawing, "review26.drawing")
WRITER = Codec(OLD)
READER = Codec(NEW)
DOES_NOT_FIT = f"payload for 'review26.drawing' does not fit {LABEL}.NewDrawing: "


def test_a_row_tagged_with_the_one_remaining_class_is_read() -> None:
    """The old rows' ``$type`` names the field's one class: it is read, the tag dropped."""
    row = WRITER.encode(OldDrawing(Circle(1.5), [Circle(2.0), Circle(3.0)]))
    assert msgpack.unpackb(row.payload)["shape"] == {"radius": 1.5, "$type": "review26.circle"}
    assert READER.decode(row.type_name, row.payload) == NewDrawing(
        Circle(1.5), [Circle(2.0), Circle(3.0)]
    )


def test_the_narrowed_union_writes_no_tag() -> None:
    """What the new class writes is untagged, as a one-class union always was."""
    row = READER.encode(NewDrawing(Circle(1.5), [Circle(2.0), 4, None]))
    assert msgpack.unpackb(row.payload) == {
        "shape": {"radius": 1.5},
        "shapes": [{"radius": 2.0}, 4, None],
    }
    assert READER.decode(row.type_name, row.payload) == NewDrawing(
        Circle(1.5), [Circle(2.0), 4, None]
    )


def test_a_row_tagged_with_a_dropped_class_is_refused_naming_both() -> None:
    """A row of the class the union dropped is a mismatch that names its tag and the field's."""
    row = WRITER.encode(OldDrawing(Square(2.0), [Circle(1.0), Square(1.0)]))
    with pytest.raises(
        MessageMismatch,
        match=exactly(
            DOES_NOT_FIT + "field 'shape' has '$type' 'review26.square', but its one class is "
            "'review26.circle'; field 'shapes[1]' has '$type' 'review26.square', but its one "
            "class is 'review26.circle'"
        ),
    ):
        READER.decode(row.type_name, row.payload)


@pytest.mark.parametrize(
    ("tag", "shown"), [(5, "5"), (None, "None"), ("review26.circle.v2", "'review26.circle.v2'")]
)
def test_a_tag_that_is_not_the_class_name_is_refused(tag: object, shown: str) -> None:
    """Only the class's own registered name is taken as its tag."""
    assert_refused(
        READER,
        "review26.drawing",
        {"shape": {"radius": 1.0, "$type": tag}},
        DOES_NOT_FIT + f"field 'shape' has '$type' {shown}, but its one class is 'review26.circle'",
    )
