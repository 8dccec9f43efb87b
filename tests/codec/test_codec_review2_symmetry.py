"""What a codec encodes it can decode: a class it could never read back is refused at encode."""

from __future__ import annotations

import re
from typing import Generic, TypeVar

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

T = TypeVar("T")
REGISTRY = MessageRegistry()


@REGISTRY.message("review2.boxed")
@attrs.frozen
class Boxed(Generic[T]):
    """A generic message: its field's type is only known per use, so it cannot be read back."""

    value: T


@REGISTRY.message("review2.buffer")
@attrs.frozen
class Buffer:
    """A message with a bytearray field (msgpack writes it as bin, like bytes)."""

    data: bytearray
    more: bytearray | None = None


def test_a_class_that_cannot_be_decoded_is_refused_when_encoded() -> None:
    """Encoding a generic class raises UnencodableMessage at the sender, not at every receiver."""
    codec = Codec(REGISTRY)
    with pytest.raises(
        UnencodableMessage,
        match=(
            "^"
            + re.escape(
                "cannot encode test_codec_review2_symmetry.Boxed: field 'value' cannot be "
                "read back: StructureHandlerNotFoundError("
            )
        ),
    ):
        codec.encode(Boxed(1))
    with pytest.raises(UnencodableMessage):
        codec.encode_blob(Boxed(1))


def test_a_bytearray_field_round_trips() -> None:
    """A ``bytearray`` field comes back as a ``bytearray`` with the same bytes."""
    codec = Codec(REGISTRY)
    message = Buffer(bytearray(b"\x00\xff"), bytearray(b"x"))
    encoded = codec.encode(message)
    decoded = codec.decode(encoded.type_name, encoded.payload)
    assert decoded == message
    assert isinstance(decoded, Buffer)
    assert type(decoded.data) is bytearray
    assert codec.decode_blob(codec.encode_blob(message)) == message
