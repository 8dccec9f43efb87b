"""Review: a fault rule whose path pattern can never match an actor is refused, not ignored."""

from __future__ import annotations

import pytest
import trio

from trouper import Actor, handler
from trouper.testing import (
    Crash,
    Delay,
    Drop,
    Duplicate,
    FaultPlan,
    Pause,
    Simulation,
    run_simulation,
)


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


class Log(Actor):
    """Handles any string."""

    @handler
    async def note(self, msg: str) -> None:
        pass


async def note_at_one(sim: Simulation) -> None:
    log = await sim.runtime.spawn(Log, name="log")
    await trio.sleep(1)
    await log.tell("during")
    await trio.sleep(10)


def test_overlapping_pauses_hold_messages_until_the_last_one_ends() -> None:
    """A pause that ends inside another one does not let the actor handle anything."""
    plan = FaultPlan(Pause("/log", at=0.5, duration=1), Pause("/log", at=1.2, duration=3))
    result = run_simulation(note_at_one, seed=1, faults=plan)
    (deliver,) = result.trace.filter("deliver")
    assert deliver.time == 4.2


def test_back_to_back_pauses_hold_messages_until_the_second_ends() -> None:
    """Pauses from 0.5 to 1.5 and from 1.5 to 2: nothing is handled before 2."""
    plan = FaultPlan(Pause("/log", at=0.5, duration=1), Pause("/log", at=1.5, duration=0.5))
    result = run_simulation(note_at_one, seed=1, faults=plan)
    (deliver,) = result.trace.filter("deliver")
    assert deliver.time == 2.0
