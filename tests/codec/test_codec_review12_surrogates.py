"""A text with a lone surrogate (a file name read with surrogateescape) is refused by its field."""

from __future__ import annotations

import os

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()


@REGISTRY.message("review12.upload")
@attrs.frozen
class Upload:
    """Where a file came from, and its tags."""

    owner: str
    path: str
    tags: dict[str, str] = attrs.Factory(dict)


CODEC = Codec(REGISTRY)
NAME = os.fsdecode(b"report-\xff.txt")  # the byte 0xff, not UTF-8, kept as '\udcff'
PREFIX = "cannot encode test_codec_review12_surrogates.Upload: "


def test_a_lone_surrogate_in_a_field_names_the_field() -> None:
    """The refusal says which field holds the text UTF-8 cannot write, and where in it."""
    with pytest.raises(UnencodableMessage) as raised:
        CODEC.encode(Upload("ann", NAME))
    assert str(raised.value) == (
        PREFIX + "field 'path': 'report-\\udcff.txt' holds a lone surrogate '\\udcff' "
        "at index 7, which UTF-8 cannot encode"
    )


def test_a_lone_surrogate_in_a_dict_value_names_its_key() -> None:
    """Within a dict, the path goes down to the key whose value it is (read as a name)."""
    with pytest.raises(UnencodableMessage) as raised:
        CODEC.encode(Upload("ann", "ok.txt", {"source": NAME}))
    assert str(raised.value) == (
        PREFIX + "field 'tags.source': 'report-\\udcff.txt' holds a lone surrogate "
        "'\\udcff' at index 7, which UTF-8 cannot encode"
    )


def test_a_lone_surrogate_in_a_dict_key_names_the_dict() -> None:
    """A key that cannot be written is said of the dict that holds it."""
    with pytest.raises(UnencodableMessage) as raised:
        CODEC.encode(Upload("ann", "ok.txt", {NAME: "x"}))
    assert str(raised.value) == (
        PREFIX + "field 'tags': a key, 'report-\\udcff.txt', holds a lone surrogate "
        "'\\udcff' at index 7, which UTF-8 cannot encode"
    )


def test_a_lone_surrogate_in_a_bare_str_message_is_said() -> None:
    """A builtin str message is refused with the same words (it has no field)."""
    with pytest.raises(UnencodableMessage) as raised:
        CODEC.encode(NAME)
    assert str(raised.value) == (
        "cannot encode str: 'report-\\udcff.txt' holds a lone surrogate '\\udcff' at index 7, "
        "which UTF-8 cannot encode"
    )
