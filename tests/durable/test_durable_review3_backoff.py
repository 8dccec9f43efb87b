"""ExponentialJitter's fields, reviewed: booleans and strings are not numbers of seconds."""

from __future__ import annotations

import re

import pytest

from trouper.durable import Durable, ExponentialJitter


@pytest.mark.parametrize("value", [True, "1", None, [1.0]])
def test_initial_must_be_a_number(value: object) -> None:
    """``initial`` refuses a bool, a string or None with its rule (not a comparison's TypeError)."""
    with pytest.raises(
        ValueError, match=rf"^initial must be a finite number > 0, got {re_repr(value)}$"
    ):
        ExponentialJitter(initial=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, "300", None])
def test_maximum_must_be_a_number(value: object) -> None:
    """``maximum=None`` (meaning "no maximum") is refused with the rule, as a bool or a string."""
    with pytest.raises(
        ValueError,
        match=rf"^maximum must be a finite number >= initial \(1\.0\), got {re_repr(value)}$",
    ):
        ExponentialJitter(maximum=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, "2", None])
def test_multiplier_must_be_a_number(value: object) -> None:
    """``multiplier=True`` is refused, not read as a factor of 1."""
    with pytest.raises(
        ValueError, match=rf"^multiplier must be a finite number >= 1, got {re_repr(value)}$"
    ):
        ExponentialJitter(multiplier=value)  # type: ignore[arg-type]


def test_int_fields_are_numbers() -> None:
    """Ints are numbers of seconds: ``ExponentialJitter(1, 10, 3)`` caps at 1, 3, 9, 10."""
    backoff = ExponentialJitter(1, 10, 3)
    assert [backoff.cap(n) for n in range(1, 5)] == [1, 3, 9, 10]
    assert Durable(backoff=backoff).backoff is backoff


def re_repr(value: object) -> str:
    """``repr(value)`` escaped for a regular expression."""
    return re.escape(repr(value))
