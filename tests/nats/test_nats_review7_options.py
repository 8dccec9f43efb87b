"""Review 7: connect() refuses options that would only break the client later.

A ``ping_interval`` of 0 made the pinger send PINGs back to back and call the
connection stale at once, a reconnect storm; a ``max_reconnect_attempts`` that
is no count raised ``TypeError`` (or gave up) only at the first outage.
"""

from __future__ import annotations

import math

import pytest

from trouper.nats import connect

NOWHERE = "nats://127.0.0.1:1"
"""Options are checked before any connection is tried."""


@pytest.mark.parametrize("option", ["ping_interval", "connect_timeout"])
@pytest.mark.parametrize("value", [0, -1, math.nan])
async def test_seconds_that_must_pass_are_more_than_zero(option: str, value: float) -> None:
    """``ping_interval`` and ``connect_timeout`` of 0 (or less) raise ValueError at once."""
    with pytest.raises(ValueError, match=rf"^{option} must be seconds > 0, got {value!r}$"):
        async with connect(NOWHERE, **{option: value}):  # type: ignore[arg-type]
            pass


@pytest.mark.parametrize("value", ["5", -1, math.nan, True, None])
async def test_max_reconnect_attempts_must_be_a_count(value: object) -> None:
    """A ``max_reconnect_attempts`` that is no count raises ValueError at once."""
    with pytest.raises(
        ValueError, match=rf"^max_reconnect_attempts must be a count >= 0 or inf, got {value!r}$"
    ):
        async with connect(NOWHERE, max_reconnect_attempts=value):  # type: ignore[arg-type]
            pass
