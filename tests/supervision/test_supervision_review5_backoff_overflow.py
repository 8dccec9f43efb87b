"""A backoff's wait stays at its maximum however long a child keeps failing (no overflow)."""

from __future__ import annotations

from trouper.supervision import Backoff, Directive, OneForOne, Restart, Supervision


def test_a_backoff_wait_past_a_thousand_attempts_is_the_maximum() -> None:
    """initial 1 s doubling, maximum 30 s: attempt 1100 waits 30 s (2.0**1100 overflows)."""
    assert Backoff(initial=1, maximum=30).delay(1100) == 30


def test_a_backoff_from_zero_stays_zero_past_a_thousand_attempts() -> None:
    """initial 0: every wait is 0, however many attempts."""
    assert Backoff(initial=0, maximum=30).delay(1100) == 0


def test_a_child_failing_at_every_restart_for_hours_keeps_being_restarted() -> None:
    """One failure each 40 s, never 30 s quiet: restart 1100 is decided, with a 30 s wait."""
    strategy = OneForOne(backoff=Backoff(initial=1, maximum=30, reset_after=60))
    supervision = Supervision(strategy)
    now = 0.0
    for _ in range(1100):
        decision = supervision.on_exit(["w"], "w", Restart.PERMANENT, RuntimeError("x"), now)
        assert decision.directive is Directive.RESTART
        now += 40.0
    assert decision.delay == 30
