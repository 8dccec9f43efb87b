"""A name clash between two classes of one name says how that can happen."""

from __future__ import annotations

import re

import attrs
import pytest

from trouper.codec import MessageRegistry
from trouper.errors import MessageTypeConflict


def make() -> type:
    """Define a fresh class each call, as importing a module twice or reloading it does."""

    @attrs.frozen
    class Ping:
        """A message."""

        n: int

    return Ping


def test_a_second_class_of_the_same_name_is_told_apart_from_the_first() -> None:
    """The error does not read as a class clashing with itself."""
    registry = MessageRegistry()
    registry.register(make(), "review5.ping")
    problem = (
        "cannot register test_codec_review5_registry.make.<locals>.Ping as 'review5.ping': "
        "'review5.ping' already names another class called "
        "test_codec_review5_registry.make.<locals>.Ping (was its module imported twice, or "
        "reloaded?)"
    )
    with pytest.raises(MessageTypeConflict, match=f"^{re.escape(problem)}$"):
        registry.register(make(), "review5.ping")
