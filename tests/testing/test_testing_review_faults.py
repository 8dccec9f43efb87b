"""Review: a fault rule whose path pattern can never match an actor is refused, not ignored."""

from __future__ import annotations

import pytest

from trouper.testing import Crash, Delay, Drop, Duplicate, Pause


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Crash("acct-1", at_message=1),
            r"^actor must be a path pattern such as '/bank/\*'",
        ),
        (lambda: Pause("bank/*", at=0, duration=1), r"^actor must be a path pattern such as"),
        (lambda: Drop(("main", "/a"), 1.0), r"^between must be a \(sender, receiver\) pair"),
        (lambda: Delay(("/a", "b"), 1.0), r"^between must be a \(sender, receiver\) pair"),
        (lambda: Duplicate(("/a", "<main>"), 1.0), r"^between must be a \(sender, receiver\)"),
    ],
)
def test_a_pattern_that_no_actor_path_can_match_is_refused(build: object, message: str) -> None:
    """Paths start with ``/``: ``acct-1`` or a sender ``main`` would inject nothing, silently."""
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("pattern", ["/bank/*", "*", "*acct*", "?bank*", "[/]bank"])
def test_patterns_that_can_match_an_actor_are_accepted(pattern: str) -> None:
    """A leading ``/`` or a wildcard can match a path; ``<main>`` is a sender outside actors."""
    Crash(pattern, at_message=1)
    Drop(("<main>", pattern), 0.5)
    Drop((pattern, pattern), 0.5)
