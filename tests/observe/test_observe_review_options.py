"""Review: an interval the page's settings cannot carry as JSON is refused when the view opens."""

from __future__ import annotations

import math

import pytest

import trouper
from trouper.observe import open_view


@pytest.mark.parametrize("interval", [math.inf, math.nan, 0, -1])
async def test_an_interval_that_is_not_finite_seconds_above_zero_is_refused(
    interval: float,
) -> None:
    """``interval=inf`` would never update the page, and its ``/api/config`` answered 500."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            ValueError, match=rf"^interval must be finite seconds > 0, got {interval!r}$"
        ):
            async with open_view(rt, port=0, interval=interval):
                pass
