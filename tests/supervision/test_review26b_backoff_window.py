"""When a backoff keeps the intensity window from filling: max_restarts * maximum > within."""

from __future__ import annotations

import pytest

from trouper import Backoff, Directive, OneForOne, Restart
from trouper.supervision import Supervision


def decisions_until_give_up(strategy: OneForOne, limit: int = 50) -> list[float]:
    """Times of the decisions on a child that fails at once at every start, up to a give-up."""
    supervision = Supervision(strategy)
    now, times = 0.0, []
    for _ in range(limit):
        decision = supervision.on_exit(["c"], "c", Restart.PERMANENT, ValueError(), now)
        times.append(now)
        if decision.directive is Directive.ESCALATE:
            return times
        now += decision.delay  # the new instance fails as it starts
    return times


def test_a_window_exactly_filled_by_maximum_waits_gives_up() -> None:
    """2 in 10 s with waits of 5 s: the restart 10 s old still counts, so the third gives up."""
    strategy = OneForOne(max_restarts=2, within=10.0, backoff=Backoff(5.0, 5.0))
    assert decisions_until_give_up(strategy) == [0.0, 5.0, 10.0]


@pytest.mark.parametrize("within", [9.0, 9.999])
def test_a_window_shorter_than_the_waits_never_fills(within: float) -> None:
    """2 in less than 10 s with waits of 5 s: retried for ever at that interval."""
    strategy = OneForOne(max_restarts=2, within=within, backoff=Backoff(5.0, 5.0))
    assert len(decisions_until_give_up(strategy)) == 50


def test_growing_waits_can_fill_the_window_before_reaching_maximum() -> None:
    """3 in 10 s with Backoff(1, 4): 3 * 4 > 10, yet decisions at 0, 1, 3 and 7 s give up."""
    strategy = OneForOne(max_restarts=3, within=10.0, backoff=Backoff(1.0, 4.0))
    assert decisions_until_give_up(strategy) == [0.0, 1.0, 3.0, 7.0]
