"""A class passed where a message goes (``tell(Ping)`` for ``tell(Ping())``) is named as such."""

from __future__ import annotations

import attrs
import pytest
from test_review25_support import exactly

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage, UnregisteredMessageType

REGISTRY = MessageRegistry()
CODEC = Codec(REGISTRY)
LABEL = "test_review25_class_not_instance"


@REGISTRY.message("review25.ping")
@attrs.frozen
class Ping:
    """A message with no fields."""


@pytest.mark.parametrize("encode", [CODEC.encode, CODEC.encode_blob])
def test_a_registered_class_itself_is_refused_as_not_an_instance(encode: object) -> None:
    """Not 'type is not a registered message type', which sends the user to register it again."""
    with pytest.raises(
        UnencodableMessage,
        match=exactly(
            f"cannot encode {LABEL}.Ping: the class itself was given, not a message "
            "(an instance of it, such as Ping(...))"
        ),
    ):
        encode(Ping)  # type: ignore[operator]


def test_a_registered_instance_still_encodes_after_its_class_was_refused() -> None:
    """The refusal caches nothing: the class's instances encode as before."""
    with pytest.raises(UnencodableMessage):
        CODEC.encode(Ping)
    assert CODEC.encode(Ping()).type_name == "review25.ping"


def test_an_unregistered_instance_is_still_unregistered() -> None:
    """An instance of a class that is not registered keeps its own error."""

    @attrs.frozen
    class Pong:
        """Not registered."""

    with pytest.raises(UnregisteredMessageType):
        CODEC.encode(Pong())


def test_name_of_an_instance_is_a_type_error_saying_so() -> None:
    """name_of(Ping()) for name_of(Ping): a TypeError naming what came, not an AttributeError."""
    with pytest.raises(
        TypeError,
        match=exactly(f"name_of() takes a message type (a class), got an instance of {LABEL}.Ping"),
    ):
        REGISTRY.name_of(Ping())  # type: ignore[arg-type]
