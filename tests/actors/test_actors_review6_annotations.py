"""Only a handler's message annotation decides what it takes; other annotations are not read."""

from __future__ import annotations

import re

import attrs
import pytest

from trouper import Actor, handler


@attrs.frozen
class Ping:
    """A message."""


def test_an_unresolvable_return_annotation_does_not_refuse_the_handler() -> None:
    """A handler whose return annotation names nothing still handles its message class."""

    class Replier(Actor):
        @handler
        async def on_ping(self, message: Ping) -> NotDefinedAnywhere:  # type: ignore[name-defined]  # noqa: F821
            return None

    assert Replier.handler_for(Ping) is Replier.on_ping


def test_an_unresolvable_message_annotation_names_it() -> None:
    """A message annotation that names nothing is refused, quoting the missing name."""
    with pytest.raises(
        TypeError,
        match="^"
        + re.escape(
            "Ghost.on_ghost: cannot resolve the message annotation (name 'Nowhere' is not defined)"
        )
        + "$",
    ):

        class Ghost(Actor):
            @handler
            async def on_ghost(self, message: Nowhere) -> None:  # type: ignore[name-defined]  # noqa: F821
                pass
