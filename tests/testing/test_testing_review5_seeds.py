"""Review 5: ``seeds`` that are not an iterable of seeds are refused, saying what was wrong."""

from __future__ import annotations

import pytest

from trouper.testing import Simulation, explore, explore_durable


async def system(sim: Simulation) -> None:
    """Nothing to do."""


@pytest.mark.parametrize("seeds", [100, None, 2.5])
def test_seeds_that_are_not_iterable_are_refused(seeds: object) -> None:
    """``seeds=100`` meant ``range(100)``: a TypeError that says so, not ``'int' object...``."""
    message = rf"^seeds must be an iterable of int seeds, such as range\(100\), got {seeds!r}$"
    with pytest.raises(TypeError, match=message):
        explore(system, seeds=seeds)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=message):
        explore_durable(system, seeds=seeds)  # type: ignore[arg-type]
