"""The cell's lifecycle as tables: phases, commands, and which command wins.

Theory of operation
-------------------
A cell (``_cell``) is always in one ``Phase``. Only the cell's own task moves
it from one phase to the next; everyone else (its supervisor, a stopper, a
linked actor, the actor itself through ``ctx.stop()``) sends it a
``Command``. This module decides, with no I/O and no Trio, what becomes of a
command: ``admit(phase, pending, command)`` returns

- ``TAKE``: it becomes the cell's pending command, replacing the one before;
- ``DROP``: it means nothing any more (a stale answer, a second stop);
- ``DEFER``: it is kept for the actor's next instance (a linked actor's
  failure that arrives between instances).

The cell's task takes its pending command when it parks or between two
messages, and carries it out::

                    START ok                     handler raises, FAIL, LINK_FAILED
     ┌──────────┐ ─────────▶ ┌─────────┐ ───────────────────────────────▶ ┌─────────┐
     │ STARTING │            │ RUNNING │            EXIT (ctx.stop)       │ FAILED  │
     └──────────┘ ◀──┐       └─────────┘ ──────────────────────┐          │ EXITING │
        │ on_start   │         ▲     │ TERMINATE               ▼          └─────────┘
        │ raises     │  START  │     ▼                   (the supervisor    │  │  │
        ▼            │         │  ┌────────┐  ended  ┌───────┐ decides)    │  │  │
     FAILED          └─────────┼──│ ENDING │───────▶ │ ENDED │ ◀───────────┘  │  │
                               │  └────────┘         └───────┘  TERMINATE     │  │
                               └──────────────── RESUME ─────────────────────-┘  │
                                                                                 │
     any live phase ── STOP ──▶ STOPPING ── children stopped, on_stop ──▶ STOPPED

A failure or an exit of its own is *reported* to the supervisor; the cell
then parks in ``FAILED`` or ``EXITING`` with its instance, and only the
supervisor's answer moves it on: ``RESUME`` (same instance), ``TERMINATE``
(end the instance, park in ``ENDED`` until ``START``), or ``STOP``.

Which command wins
------------------
``ACCEPTS`` says which commands each phase takes at all; between two
commands that are both acceptable, the higher ``RANK`` wins: a stop beats
everything, a supervisor's instruction beats the actor's own exits, a failure
beats a normal exit. A link failure that loses to a ``TERMINATE`` is deferred
(the instance is being replaced, not failed: the next one fails with it, as
linking to a dead actor would); one that arrives while no instance runs is
deferred too. A command that loses is dropped.
"""

from __future__ import annotations

import enum

from trouper.actors import ActorState

__all__ = [
    "ACCEPTS",
    "PUBLIC_STATE",
    "RANK",
    "Command",
    "Phase",
    "Verdict",
    "admit",
]


class Phase(enum.Enum):
    """Where a cell is in its life (finer than the public ``ActorState``)."""

    STARTING = "starting"
    """Building an instance, or running its ``on_restart`` / ``on_start``."""
    RUNNING = "running"
    """Serving messages."""
    FAILED = "failed"
    """Reported a failure; parked with its instance until the supervisor answers."""
    EXITING = "exiting"
    """Reported an exit of its own (``ctx.stop()``); parked until the supervisor answers."""
    ENDING = "ending"
    """Ending its instance for a restart: ``on_stop``, then its children."""
    ENDED = "ended"
    """No instance; parked until the supervisor starts a new one."""
    STOPPING = "stopping"
    """Stopping for good: children, then ``on_stop``."""
    STOPPED = "stopped"
    """Stopped for good (final)."""

    # Members are singletons: hashing by identity is correct and much faster than
    # Enum's hash of the name, and the tables are looked up on every command.
    __hash__ = object.__hash__


class Command(enum.Enum):
    """What others ask a cell to do."""

    STOP = "stop"
    """Stop for good (``rt.stop``, a supervisor's STOP, a shutdown, a cancelled spawn)."""
    TERMINATE = "terminate"
    """End the instance for a restart and wait for ``START`` (the supervisor)."""
    RESUME = "resume"
    """Serve again with the same instance (the supervisor's answer to an exit)."""
    START = "start"
    """Build and start a new instance (the supervisor, after ``TERMINATE``)."""
    FAIL = "fail"
    """Fail now, as if a handler had raised (the actor's children's supervision gave up)."""
    LINK_FAILED = "link_failed"
    """A linked actor stopped with an error (deferred while no instance runs)."""
    EXIT = "exit"
    """The actor stops itself (``ctx.stop()``): an exit its supervisor decides."""

    __hash__ = object.__hash__  # (see Phase)


class Verdict(enum.Enum):
    """What ``admit`` decides for one command."""

    TAKE = "take"
    """Make it the pending command."""
    DROP = "drop"
    """Ignore it."""
    DEFER = "defer"
    """Keep it for the next instance."""


_OWN_EXITS = frozenset({Command.FAIL, Command.LINK_FAILED, Command.EXIT})
_AWAITING_DECISION = frozenset({Command.STOP, Command.TERMINATE, Command.RESUME})

ACCEPTS: dict[Phase, frozenset[Command]] = {
    Phase.STARTING: frozenset({Command.STOP, Command.TERMINATE}) | _OWN_EXITS,
    Phase.RUNNING: frozenset({Command.STOP, Command.TERMINATE}) | _OWN_EXITS,
    Phase.FAILED: _AWAITING_DECISION,
    Phase.EXITING: _AWAITING_DECISION,
    Phase.ENDING: frozenset({Command.STOP}),
    Phase.ENDED: frozenset({Command.STOP, Command.START}),
    Phase.STOPPING: frozenset(),
    Phase.STOPPED: frozenset(),
}
"""The commands each phase takes; any other is dropped (or, for ``LINK_FAILED``, deferred)."""

RANK: dict[Command, int] = {
    Command.STOP: 5,
    Command.TERMINATE: 4,
    Command.RESUME: 3,
    Command.START: 3,
    Command.FAIL: 2,
    Command.LINK_FAILED: 2,
    Command.EXIT: 1,
}
"""Between a pending command and a new acceptable one, the strictly higher rank wins."""

PUBLIC_STATE: dict[Phase, ActorState] = {
    Phase.STARTING: ActorState.STARTING,
    Phase.RUNNING: ActorState.RUNNING,
    Phase.FAILED: ActorState.FAILED,
    Phase.EXITING: ActorState.RUNNING,
    Phase.ENDING: ActorState.RESTARTING,
    Phase.ENDED: ActorState.RESTARTING,
    Phase.STOPPING: ActorState.STOPPING,
    Phase.STOPPED: ActorState.STOPPED,
}
"""How each phase shows in trees and child lists."""

_LIVE_INSTANCE = frozenset({Phase.STARTING, Phase.RUNNING})


def admit(phase: Phase, pending: Command | None, command: Command) -> Verdict:
    """Decide what a cell in ``phase``, with ``pending`` waiting, does with ``command``."""
    if command not in ACCEPTS[phase]:
        if (
            command is Command.LINK_FAILED
            and phase not in _LIVE_INSTANCE
            and phase
            not in (
                Phase.STOPPING,
                Phase.STOPPED,
            )
        ):
            return Verdict.DEFER
        return Verdict.DROP
    if pending is None or RANK[command] > RANK[pending]:
        return Verdict.TAKE
    if command is Command.LINK_FAILED and pending is Command.TERMINATE:
        return Verdict.DEFER
    return Verdict.DROP
