"""Review 5: a bool is not a count, for the observer's options as for ``max_connections``.

``isinstance(True, int)`` holds, so ``page_size=True`` was taken as 1 and
``sample_every=False`` failed as 0 without saying a bool is no number.
"""

from __future__ import annotations

import pytest

import trouper
from trouper.observe import Collector, Metrics, Observer, open_view


@pytest.mark.parametrize("option", ["page_size", "max_rows"])
async def test_an_observer_option_that_is_a_bool_is_refused(option: str) -> None:
    """``page_size=True`` is not a page of one child."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=rf"^{option} must be an int >= 1, got True$"):
            Observer(rt, **{option: True})  # type: ignore[arg-type]


@pytest.mark.parametrize("option", ["keep", "failures_per_actor", "actors"])
def test_a_collector_option_that_is_a_bool_is_refused(option: str) -> None:
    """``keep=True`` is not a ring of one entry."""
    with pytest.raises(ValueError, match=rf"^{option} must be an int >= 1, got True$"):
        Collector(**{option: True})


def test_a_sample_every_that_is_a_bool_is_refused() -> None:
    """``sample_every=True`` is not one message in one."""
    with pytest.raises(ValueError, match=r"^sample_every must be an int >= 1, got True$"):
        Metrics(otel=False, sample_every=True)


async def test_an_interval_that_is_a_bool_is_refused() -> None:
    """``interval=True`` is not one second between updates."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=r"^interval must be finite seconds > 0, got True$"):
            async with open_view(rt, port=0, interval=True):
                pass
