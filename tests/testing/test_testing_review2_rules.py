"""Review: a fault rule that can never inject anything is refused with the reason."""

from __future__ import annotations

import math

import pytest

from trouper.testing import Crash, Delay, Drop, Duplicate, Exponential, Pause, Uniform

PAIR = ("<main>", "/a")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Drop(PAIR, 0),
            r"^a Drop with probability 0 never fires; leave it out of the FaultPlan instead$",
        ),
        (
            lambda: Delay(PAIR, 0.0, delay=1),
            r"^a Delay with probability 0 never fires; leave it out of the FaultPlan instead$",
        ),
        (
            lambda: Duplicate(PAIR, 0),
            r"^a Duplicate with probability 0 never fires; leave it out of the FaultPlan instead$",
        ),
        (
            lambda: Delay(PAIR, 0.5, delay=0),
            r"^a Delay of 0 seconds changes nothing: delay must be able to exceed 0, got 0$",
        ),
        (
            lambda: Delay(PAIR, 0.5, delay=Uniform(0, 0)),
            r"^a Delay of 0 seconds changes nothing: delay must be able to exceed 0, "
            r"got Uniform\(low=0, high=0\)$",
        ),
        (
            lambda: Pause("/a", at=math.inf, duration=1),
            r"^at must be a finite number of seconds >= 0, got inf$",
        ),
        (
            lambda: Pause("/a", at="1", duration=1),  # type: ignore[arg-type]
            r"^at must be a finite number of seconds >= 0, got '1'$",
        ),
        (
            lambda: Pause("/a", at=1, duration=0),
            r"^duration must be a number of seconds > 0, got 0$",
        ),
        (
            lambda: Drop(PAIR, True),
            r"^probability must be between 0 and 1, got True$",
        ),
        (
            lambda: Crash("/a", probability="0.5"),  # type: ignore[arg-type]
            r"^probability must be between 0 and 1, got '0.5'$",
        ),
    ],
)
def test_a_rule_that_injects_nothing_is_refused(build: object, message: str) -> None:
    """Probability 0, a delay of 0 or a pause that never starts would inject nothing, silently."""
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_rules_that_can_inject_something_are_accepted() -> None:
    """A delay that may be 0 but may be more, and an endless pause, do something."""
    Delay(PAIR, 0.5, delay=Uniform(0, 1))
    Delay(PAIR, 1.0, delay=Exponential(0.1))
    Delay(PAIR, 1e-9, delay=0.001)
    Pause("/a", at=0, duration=math.inf)
    Crash("/a", at_message=2, probability=0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Uniform("0", 1),  # type: ignore[arg-type]
            r"^Uniform needs 0 <= low <= high < inf, got '0', 1$",
        ),
        (lambda: Uniform(0, True), r"^Uniform needs 0 <= low <= high < inf, got 0, True$"),
        (
            lambda: Exponential("1"),  # type: ignore[arg-type]
            r"^Exponential needs 0 < mean < inf, got '1'$",
        ),
        (
            lambda: Exponential(None),  # type: ignore[arg-type]
            r"^Exponential needs 0 < mean < inf, got None$",
        ),
    ],
)
def test_a_distribution_of_something_else_than_seconds_is_refused(
    build: object, message: str
) -> None:
    """Bounds and means are numbers; anything else is a ``ValueError`` saying what it got."""
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]
