"""Supervision decisions as pure logic: no Trio, no runtime."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trouper.actors import Actor
from trouper.supervision import (
    Backoff,
    ChildSpec,
    Decision,
    Directive,
    OneForAll,
    OneForOne,
    Restart,
    RestForOne,
    Strategy,
    Supervision,
    check_unique_ids,
    within_intensity,
)

CHILDREN = ["a", "b", "c", "d"]


def test_one_for_one_restarts_only_the_failed_child() -> None:
    """OneForOne affects the failed child alone."""
    assert OneForOne().affected(CHILDREN, "b") == ("b",)


def test_one_for_all_restarts_every_child_in_start_order() -> None:
    """OneForAll affects every child, in start order."""
    assert OneForAll().affected(CHILDREN, "c") == ("a", "b", "c", "d")


def test_rest_for_one_restarts_the_failed_child_and_those_after_it() -> None:
    """RestForOne affects the failed child and the children started after it."""
    assert RestForOne().affected(CHILDREN, "b") == ("b", "c", "d")
    assert RestForOne().affected(CHILDREN, "d") == ("d",)


def test_transient_child_is_restarted_after_failure_not_after_normal_exit() -> None:
    """TRANSIENT: a failure restarts it, a normal stop is final."""
    supervision = Supervision(OneForOne())
    assert supervision.on_exit(CHILDREN, "a", Restart.TRANSIENT, None, 0.0) == Decision(
        Directive.STOP
    )
    assert supervision.on_exit(CHILDREN, "a", Restart.TRANSIENT, ValueError(), 0.0) == Decision(
        Directive.RESTART, restart=("a",)
    )


def test_permanent_child_is_restarted_after_a_normal_exit_too() -> None:
    """PERMANENT: restarted after a normal stop of its own, and that counts."""
    supervision = Supervision(OneForOne(max_restarts=1))
    assert supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, None, 0.0).directive is (
        Directive.RESTART
    )
    assert supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, None, 1.0).gave_up


def test_temporary_child_is_never_restarted_and_never_counts() -> None:
    """TEMPORARY: stopped after a failure, and the intensity is untouched."""
    supervision = Supervision(OneForOne(max_restarts=0))
    for _ in range(3):
        assert supervision.on_exit(CHILDREN, "a", Restart.TEMPORARY, ValueError(), 0.0) == (
            Decision(Directive.STOP)
        )
    assert supervision.on_exit(CHILDREN, "b", Restart.PERMANENT, ValueError(), 0.0).gave_up


def test_intensity_gives_up_on_one_restart_too_many() -> None:
    """``max_restarts`` restarts fit in the window; the next one gives up."""
    supervision = Supervision(OneForOne(max_restarts=2, within=10))
    decisions = [
        supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, ValueError(), t) for t in (0, 1, 2)
    ]
    assert [d.directive for d in decisions] == [
        Directive.RESTART,
        Directive.RESTART,
        Directive.ESCALATE,
    ]
    assert decisions[2].gave_up


def test_intensity_is_counted_across_all_children_of_a_supervisor() -> None:
    """An ordinary supervisor counts every child's restarts together (OTP)."""
    supervision = Supervision(OneForOne(max_restarts=2, within=10))
    supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, ValueError(), 0)
    supervision.on_exit(CHILDREN, "b", Restart.PERMANENT, ValueError(), 1)
    assert supervision.on_exit(CHILDREN, "c", Restart.PERMANENT, ValueError(), 2).gave_up


def test_per_child_intensity_counts_children_apart() -> None:
    """The root's supervision counts each top-level actor on its own."""
    supervision = Supervision(OneForOne(max_restarts=1, within=10), per_child=True)
    assert not supervision.on_exit(CHILDREN, "a", Restart.TRANSIENT, ValueError(), 0).gave_up
    assert not supervision.on_exit(CHILDREN, "b", Restart.TRANSIENT, ValueError(), 0).gave_up
    assert supervision.on_exit(CHILDREN, "a", Restart.TRANSIENT, ValueError(), 1).gave_up


def test_directives_follow_the_error_mro() -> None:
    """The first directive along the error's MRO wins; others restart."""
    strategy = OneForOne(
        directives={
            LookupError: Directive.RESUME,
            KeyError: Directive.STOP,
            OSError: Directive.ESCALATE,
        }
    )
    assert strategy.directive_for(KeyError()) is Directive.STOP
    assert strategy.directive_for(IndexError()) is Directive.RESUME
    assert strategy.directive_for(ConnectionError()) is Directive.ESCALATE
    assert strategy.directive_for(ValueError()) is Directive.RESTART
    supervision = Supervision(strategy)
    assert supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, IndexError(), 0) == Decision(
        Directive.RESUME
    )


def test_backoff_grows_caps_and_resets_after_a_quiet_period() -> None:
    """Waits multiply per consecutive failure up to the maximum; quiet resets them."""
    supervision = Supervision(
        OneForOne(max_restarts=100, within=1, backoff=Backoff(1, 10, multiplier=3, reset_after=60))
    )

    def delay(now: float) -> float:
        return supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, ValueError(), now).delay

    assert [delay(t) for t in (0, 2, 6, 16, 30)] == [1, 3, 9, 10, 10]
    assert delay(99) == 10  # ran 59 s since its restart at 40: not quiet long enough
    assert delay(170) == 1  # ran 61 s since its restart at 109
    assert supervision.on_exit(CHILDREN, "b", Restart.PERMANENT, ValueError(), 171).delay == 1


def test_backoff_jitter_stretches_the_wait_by_at_most_its_fraction() -> None:
    """Jitter scales the wait by 1 + jitter * random."""
    backoff = Backoff(2, 8, jitter=0.5)
    assert backoff.delay(0, 0.0) == 2
    assert backoff.delay(0, 0.5) == 2.5
    assert backoff.delay(5, 0.99) == pytest.approx(8 * 1.495)
    assert backoff.quiet_period == 8


def test_no_backoff_means_immediate_restarts() -> None:
    """Without a Backoff the delay is zero (OTP)."""
    supervision = Supervision(OneForOne())
    assert supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, ValueError(), 0).delay == 0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: OneForOne(max_restarts=-1), r"^max_restarts must be an int >= 0, got -1$"),
        (lambda: OneForAll(within=0), r"^within must be > 0 seconds, got 0$"),
        (lambda: Backoff(-1, 5), r"^initial must be >= 0, got -1$"),
        (lambda: Backoff(5, 1), r"^maximum must be >= initial \(5\), got 1$"),
        (lambda: Backoff(1, 5, multiplier=0.5), r"^multiplier must be a finite number >= 1"),
        (lambda: Backoff(1, 5, jitter=2), r"^jitter must be between 0 and 1, got 2$"),
        (
            lambda: OneForOne(directives={1: Directive.STOP}),  # type: ignore[dict-item]
            r"^directives keys must be exception",
        ),
        (
            lambda: OneForOne(directives={ValueError: "stop"}),  # type: ignore[dict-item]
            r"^directives values must be Directive members, got 'stop'$",
        ),
        (
            lambda: ChildSpec("a", Actor, shutdown=-1),
            r"^shutdown must be seconds >= 0, got -1$",
        ),
        (
            lambda: ChildSpec("a", Actor, restart="permanent"),  # type: ignore[arg-type]
            r"^restart must be Restart.PERMANENT, Restart.TRANSIENT or Restart.TEMPORARY, "
            r"got 'permanent'$",
        ),
        (lambda: ChildSpec("", Actor), r"^a child id must be a non-empty string, got ''$"),
        (lambda: ChildSpec("a/b", Actor), r"^a child id is one path segment: it cannot hold '/'"),
        (lambda: ChildSpec("a", 42), r"^factory must be callable"),  # type: ignore[arg-type]
        (lambda: ChildSpec("a", Actor, mailbox_size=0), r"^mailbox_size must be an int >= 1"),
        (
            lambda: ChildSpec("a", Actor, args="abc"),
            r"^args must be a tuple or list of positional arguments, got 'abc'$",
        ),
        (
            lambda: ChildSpec("a", Actor, args=5),  # type: ignore[arg-type]
            r"^args must be a tuple or list of positional arguments, got 5$",
        ),
        (
            lambda: ChildSpec("a", Actor, kwargs=5),  # type: ignore[arg-type]
            r"^kwargs must be a mapping of keyword arguments, got 5$",
        ),
        (
            lambda: ChildSpec("a", Actor, kwargs={1: "x"}),  # type: ignore[dict-item]
            r"^kwargs keys must be argument names, got 1$",
        ),
        (
            lambda: ChildSpec("a", Actor, throughput=0),
            r"^throughput must be an int >= 1, got 0$",
        ),
        (
            lambda: ChildSpec("a b", Actor),
            r"^a child id cannot hold spaces or other whitespace, got 'a b'$",
        ),
        (
            lambda: ChildSpec("a*", Actor),
            r"^a child id cannot hold '\*' or '>', the wildcards of subjects, got 'a\*'$",
        ),
        (
            lambda: ChildSpec("a", Actor, name="x>"),
            r"^name cannot hold '\*' or '>', the wildcards of subjects, got 'x>'$",
        ),
        (
            lambda: ChildSpec("...", Actor),
            r"^a child id cannot be only dots, which paths reserve, got '\.\.\.'$",
        ),
        (
            lambda: check_unique_ids([ChildSpec("a", Actor), ChildSpec("a", Actor)]),
            r"^duplicate child id 'a'$",
        ),
    ],
)
def test_bad_strategies_and_specs_are_refused_when_built(build: object, message: str) -> None:
    """Misconfiguration raises ValueError saying what is wrong, at construction."""
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_shutdown_accepts_zero_and_infinity() -> None:
    """``shutdown`` is seconds: 0 cancels at once, inf waits forever."""
    assert ChildSpec("a", Actor, shutdown=0).shutdown == 0
    assert ChildSpec("a", Actor, shutdown=math.inf).shutdown == math.inf


def test_strategy_describes_itself() -> None:
    """Trees and logs show a strategy briefly."""
    assert OneForAll(max_restarts=2, within=1.5).describe() == "OneForAll(2 in 1.5s)"
    assert OneForOne(within=10).describe() == "OneForOne(3 in 10s)"
    assert RestForOne(backoff=Backoff(0.5, 4)).describe() == "RestForOne(3 in 5s, backoff 0.5..4s)"
    assert isinstance(OneForOne(), Strategy)


# --- the intensity rule against a reference model ---------------------------------


def reference_allows(
    restart_times: list[float], now: float, max_restarts: int, within: float
) -> bool:
    """Would one more restart at ``now`` keep at most ``max_restarts`` in the window?"""
    recent = [t for t in restart_times if now - t <= within]
    return len(recent) + 1 <= max_restarts


@given(
    max_restarts=st.integers(0, 5),
    within=st.floats(0.5, 20),
    gaps=st.lists(st.floats(0, 10), min_size=1, max_size=40),
)
def test_intensity_matches_the_reference_model_decision_by_decision(
    max_restarts: int, within: float, gaps: list[float]
) -> None:
    """Random failure sequences: every decision equals the reference model's."""
    supervision = Supervision(OneForOne(max_restarts=max_restarts, within=within))
    restarts: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        decision = supervision.on_exit(["x"], "x", Restart.PERMANENT, ValueError(), now)
        allowed = reference_allows(restarts, now, max_restarts, within)
        assert decision.directive is (Directive.RESTART if allowed else Directive.ESCALATE)
        if not allowed:
            return  # the supervisor gave up; a restarted one starts a fresh history
        restarts.append(now)


@given(
    history=st.lists(st.floats(0, 100), max_size=10).map(sorted),
    now=st.floats(100, 200),
    max_restarts=st.integers(0, 5),
    within=st.floats(0.5, 50),
)
def test_within_intensity_keeps_only_the_window(
    history: list[float], now: float, max_restarts: int, within: float
) -> None:
    """The kept history is the restarts inside the window plus the new one."""
    kept, allowed = within_intensity(tuple(history), now, max_restarts, within)
    assert kept == (*[t for t in history if now - t <= within], now)
    assert allowed == (len(kept) <= max_restarts)


def test_a_restart_exactly_within_seconds_old_still_counts() -> None:
    """The window includes its edge, as OTP's (``now - t <= within``)."""
    supervision = Supervision(OneForOne(max_restarts=1, within=5))
    assert not supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, ValueError(), 0).gave_up
    assert supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, ValueError(), 5).gave_up


def test_an_instance_that_never_started_is_restarted_not_resumed() -> None:
    """RESUME needs a started instance; a failed on_start restarts (and counts)."""
    supervision = Supervision(OneForOne(max_restarts=1, directives={KeyError: Directive.RESUME}))
    resumed = supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, KeyError(), 0, started=True)
    assert resumed == Decision(Directive.RESUME)
    restarted = supervision.on_exit(CHILDREN, "a", Restart.PERMANENT, KeyError(), 1, started=False)
    assert restarted.directive is Directive.RESTART
    assert supervision.on_exit(
        CHILDREN, "a", Restart.PERMANENT, KeyError(), 2, started=False
    ).gave_up
