"""Review 12: ``HashRing.build`` refuses ids that are not a sequence of non-empty strings.

A str is a sequence of one-character strings: ``HashRing.build("node-1")``
built a ring over the characters ``n``, ``o``, ``d``..., and an int id hashed
like its digits in a str (``1`` and ``"1"`` took the same points).
"""

from __future__ import annotations

import re

import pytest

from trouper.routing import HashRing


def test_a_single_string_is_not_a_list_of_ids() -> None:
    """The forgotten list is named, not read letter by letter."""
    message = "ids must be a sequence of member ids (str), got the str 'node-1'"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        HashRing.build("node-1")


def test_an_id_that_is_not_a_string_is_refused() -> None:
    """An int id would share its points with the str of its digits."""
    message = "member ids must be non-empty str, got 1 at position 2"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        HashRing.build(["a", 1])  # type: ignore[list-item]


def test_an_empty_id_is_refused() -> None:
    """An empty id names no member."""
    message = "member ids must be non-empty str, got '' at position 1"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        HashRing.build(["", "b"])


def test_a_tuple_of_ids_still_builds_the_same_ring_as_a_list() -> None:
    """Any sequence of str: the ring depends on the ids only."""
    assert HashRing.build(("a", "b")) == HashRing.build(["a", "b"])
