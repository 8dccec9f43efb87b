"""The cell's lifecycle table: pure, tested without Trio (as h11 tests its ``_state``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trouper.actors import ActorState
from trouper.runtime.lowlevel import (
    ACCEPTS,
    PUBLIC_STATE,
    RANK,
    Command,
    Phase,
    Verdict,
    admit,
)

LIVE = [p for p in Phase if p not in (Phase.STOPPING, Phase.STOPPED)]
C = Command
P = Phase


def run(phase: Phase, commands: list[Command]) -> tuple[Command | None, list[Command]]:
    """Feed commands to a cell parked in ``phase``; return what is pending and what was deferred."""
    pending: Command | None = None
    deferred: list[Command] = []
    for command in commands:
        verdict = admit(phase, pending, command)
        if verdict is Verdict.TAKE:
            pending = command
        elif verdict is Verdict.DEFER:
            deferred.append(command)
    return pending, deferred


def test_every_phase_has_a_row_and_a_public_state() -> None:
    """The table covers every phase, and every phase shows as an ActorState."""
    assert set(ACCEPTS) == set(Phase)
    assert set(PUBLIC_STATE) == set(Phase)
    assert set(RANK) == set(Command)
    assert PUBLIC_STATE[Phase.FAILED] is ActorState.FAILED
    assert PUBLIC_STATE[Phase.ENDED] is ActorState.RESTARTING


@pytest.mark.parametrize("phase", LIVE)
def test_a_stop_is_taken_in_every_live_phase_whatever_is_pending(phase: Phase) -> None:
    """STOP wins over anything pending, in every phase that is not stopping already."""
    for pending in [None, *ACCEPTS[phase]]:
        assert admit(phase, pending, C.STOP) is (
            Verdict.DROP if pending is C.STOP else Verdict.TAKE
        )


@pytest.mark.parametrize("phase", [P.STOPPING, P.STOPPED])
@pytest.mark.parametrize("command", list(Command))
def test_a_cell_stopping_for_good_takes_nothing(phase: Phase, command: Command) -> None:
    """Once stopping, every command is dropped (a link failure too: nothing follows)."""
    assert admit(phase, None, command) is Verdict.DROP


def test_supervisor_answers_are_taken_only_where_an_exit_awaits_them() -> None:
    """RESUME answers an exit (FAILED, EXITING); START starts an ENDED cell; else dropped."""
    for phase in Phase:
        resume = admit(phase, None, C.RESUME)
        start = admit(phase, None, C.START)
        assert (resume is Verdict.TAKE) == (phase in (P.FAILED, P.EXITING)), phase
        assert (start is Verdict.TAKE) == (phase is P.ENDED), phase


def test_a_failure_overrides_a_pending_exit_and_not_the_other_way() -> None:
    """FAIL after EXIT: the failure is reported; EXIT after FAIL: dropped."""
    assert run(P.RUNNING, [C.EXIT, C.FAIL]) == (C.FAIL, [])
    assert run(P.RUNNING, [C.FAIL, C.EXIT]) == (C.FAIL, [])
    assert run(P.RUNNING, [C.EXIT, C.LINK_FAILED]) == (C.LINK_FAILED, [])


def test_a_group_restart_replaces_the_actors_own_exit() -> None:
    """TERMINATE beats a pending own exit; the exit is moot (the instance is replaced)."""
    assert run(P.RUNNING, [C.EXIT, C.TERMINATE]) == (C.TERMINATE, [])
    assert run(P.RUNNING, [C.FAIL, C.TERMINATE]) == (C.TERMINATE, [])
    assert run(P.FAILED, [C.TERMINATE, C.RESUME]) == (C.TERMINATE, [])


def test_a_link_failure_between_instances_is_kept_for_the_next_one() -> None:
    """LINK_FAILED while no instance runs, or losing to TERMINATE, is deferred, not dropped."""
    for phase in (P.FAILED, P.EXITING, P.ENDING, P.ENDED):
        assert run(phase, [C.LINK_FAILED]) == (None, [C.LINK_FAILED]), phase
    assert run(P.RUNNING, [C.TERMINATE, C.LINK_FAILED]) == (C.TERMINATE, [C.LINK_FAILED])
    assert run(P.RUNNING, [C.STOP, C.LINK_FAILED]) == (C.STOP, [])


def test_own_exits_count_only_while_an_instance_runs() -> None:
    """EXIT and FAIL are taken in STARTING and RUNNING only."""
    for phase in Phase:
        for command in (C.EXIT, C.FAIL):
            taken = admit(phase, None, command) is Verdict.TAKE
            assert taken == (phase in (P.STARTING, P.RUNNING)), (phase, command)


@given(
    phase=st.sampled_from(list(Phase)),
    commands=st.lists(st.sampled_from(list(Command)), max_size=12),
)
def test_the_pending_command_is_the_strongest_acceptable_one_that_came(
    phase: Phase, commands: list[Command]
) -> None:
    """Whatever arrives, the pending command is accepted by the phase and outranks the others
    taken; nothing is taken after a stop."""
    pending, deferred = run(phase, commands)
    acceptable = [c for c in commands if c in ACCEPTS[phase]]
    if not acceptable:
        assert pending is None
        return
    assert pending in ACCEPTS[phase]
    assert RANK[pending] == max(RANK[c] for c in acceptable)
    # The first command of the highest rank wins: later equals do not replace it.
    assert pending == next(c for c in acceptable if RANK[c] == RANK[pending])
    assert all(c is C.LINK_FAILED for c in deferred)
    if C.STOP in commands:
        assert pending is C.STOP
