"""Review 25: an int too large for a float is refused as a non-finite number is (ValueError)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from trouper.durable import Durable, ExponentialJitter, Retry

HUGE = 2**1100  # finite as an int, but no float holds it: no time can be computed from it


@pytest.mark.parametrize(
    "make",
    [
        lambda: Retry(HUGE),
        lambda: Durable(backoff=(1.0, HUGE)),
        lambda: Durable(dedup_window=HUGE),
        lambda: ExponentialJitter(initial=HUGE),
        lambda: ExponentialJitter(maximum=HUGE),
        lambda: ExponentialJitter(multiplier=HUGE),
    ],
    ids=["retry", "backoff", "dedup_window", "initial", "maximum", "multiplier"],
)
def test_an_int_beyond_floats_is_a_value_error(make: Callable[[], object]) -> None:
    """Each says it wants a finite number, rather than raising ``OverflowError``."""
    with pytest.raises(ValueError, match="finite number"):
        make()


def test_a_large_int_that_fits_a_float_is_accepted() -> None:
    """A large int within a float's range is a finite number of seconds, as before."""
    assert Retry(10**300).after == 10**300
    assert Durable(backoff=(10**300,)).backoff == (1e300,)
