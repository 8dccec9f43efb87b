"""Review 12: ``handles`` and ``handler_for`` given a message instead of its class say so."""

from __future__ import annotations

import re

import pytest

from trouper import Actor, handler


class Counter(Actor):
    @handler
    async def count(self, message: int) -> int:
        return message


@pytest.mark.parametrize("given", [5, "int", [int]])
def test_a_value_that_is_not_a_class_is_a_type_error(given: object) -> None:
    """Was an AttributeError about ``__mro__`` (or an unhashable list)."""
    message = f"message_type must be a class (type(message) for a message), got {given!r}"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        Counter.handles(given)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        Counter.handler_for(given)  # type: ignore[arg-type]


def test_classes_are_still_answered() -> None:
    """A class, handled or not."""
    assert Counter.handles(int)
    assert Counter.handles(bool)
    assert not Counter.handles(str)
