"""``Interception`` refuses a delay that is not a number of seconds to wait."""

import math

import pytest

from trouper.runtime.lowlevel import Interception


@pytest.mark.parametrize("delay", [-1.0, -0.001, math.nan, -math.inf])
def test_interception_refuses_a_negative_or_nan_delay(delay: float) -> None:
    """A negative or NaN delay raises ValueError where it is given, not "deliver now"."""
    with pytest.raises(ValueError, match=r"^delay must be >= 0 seconds, got "):
        Interception(delay=delay)


@pytest.mark.parametrize("delay", [0, 0.0, 0.5, 3])
def test_interception_accepts_a_non_negative_delay(delay: float) -> None:
    """Zero and positive delays are still accepted as given."""
    assert Interception(delay=delay).delay == delay
