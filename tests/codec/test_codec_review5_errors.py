"""Reporting a value that cannot be encoded never fails in turn."""

from __future__ import annotations

import re

import attrs
import pytest

from trouper.codec import Codec, MessageRegistry
from trouper.errors import UnencodableMessage

REGISTRY = MessageRegistry()


class NoRepr:
    """A value whose repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@REGISTRY.message("review5.either")
@attrs.frozen
class Either:
    """A union of scalars."""

    value: int | str = 0


def test_a_misfit_whose_repr_raises_is_still_named() -> None:
    """The field is named and the value shown by its class, not a RuntimeError from its repr."""
    problem = (
        "cannot encode test_codec_review5_errors.Either: field 'value': expected int | str, "
        "got <test_codec_review5_errors.NoRepr, whose repr raised RuntimeError>"
    )
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(problem)}$"):
        Codec(REGISTRY).encode(Either(NoRepr()))  # type: ignore[arg-type]


@REGISTRY.message("review5.counts")
@attrs.frozen
class Counts:
    """A map with str keys."""

    by_name: dict[str, int] = attrs.Factory(dict)


def test_a_map_key_that_cannot_be_encoded_is_found() -> None:
    """Its map is named, and the key shown by its class (its repr is not called)."""
    problem = (
        "cannot encode test_codec_review5_errors.Counts: field 'by_name': "
        "a key is a test_codec_review5_errors.NoRepr, which cannot be encoded"
    )
    with pytest.raises(UnencodableMessage, match=f"^{re.escape(problem)}$"):
        Codec(REGISTRY).encode(Counts({NoRepr(): 1}))  # type: ignore[dict-item]
