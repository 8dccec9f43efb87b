"""Review: ``retry_delay`` given explicit delays checks them, as ``Durable(backoff=...)`` does.

It returned whatever the tuple held: ``retry_delay((-1.0,), 1, random)`` was
-1.0 and ``retry_delay(("5",), 1, random)`` the string ``"5"``, though it
computes seconds to wait (docs/durable.md, guarantee 10).
"""

from __future__ import annotations

import math
from random import Random

import pytest

from trouper.durable import Durable, retry_delay


@pytest.mark.parametrize("delay", [-1.0, math.nan, math.inf, "5", None, True])
def test_a_delay_that_is_no_wait_is_refused(delay: object) -> None:
    """A negative, infinite or not-a-number delay, or one that is no number, raises ValueError."""
    message = rf"^backoff delays must be finite numbers >= 0, got {delay!r}$"
    with pytest.raises(ValueError, match=message):
        Durable(backoff=(1.0, delay))
    with pytest.raises(ValueError, match=message):
        retry_delay((1.0, delay), 1, Random(0))  # type: ignore[arg-type]


def test_explicit_delays_are_returned_as_given() -> None:
    """Each failure waits its delay, the last one repeating."""
    assert [retry_delay((1.0, 5, 30.0), n, Random(0)) for n in (1, 2, 3, 4)] == [1.0, 5, 30.0, 30.0]
