"""``Nats`` checks ``max_reconnect_attempts`` when it is made, not at the first outage."""

from __future__ import annotations

import math

import pytest

from trouper.remote import Nats


@pytest.mark.parametrize("value", ["5", -1, math.nan, True, None])
def test_a_bad_max_reconnect_attempts_raises_at_once(value: object) -> None:
    """A count that is no count (compared with failures only once the connection drops)."""
    with pytest.raises(
        ValueError, match=rf"^max_reconnect_attempts must be a count >= 0 or inf, got {value!r}$"
    ):
        Nats(max_reconnect_attempts=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, 3, 2.0, math.inf])
def test_a_count_or_inf_is_a_max_reconnect_attempts(value: float) -> None:
    """Any whole count, or infinity (never give a server up), is taken as it is."""
    assert Nats(max_reconnect_attempts=value).max_reconnect_attempts == value
