"""Time for the store: wall-clock seconds that follow Trio's clock, and holding virtual time.

Times written to the store (when a message becomes available again, when a
dedup id expires, when a message died) must mean the same thing to the next
process, so they are wall-clock seconds. But every delay must also run on
Trio's clock, so that ``trio.testing.MockClock`` runs a two-minute dedup
window or a five-minute backoff instantly. ``wall_now`` gives both: the wall
clock read once per Trio run (or the epoch ``set_wall_clock`` gave it, which
a simulation does so that its times replay), plus the Trio time elapsed since. On the real
clock that is the wall clock (to within the drift between the monotonic and
the wall clock over the run); on a MockClock it moves only when virtual time
does, and stays continuous when a store is closed and reopened in one run.

SQLite works in threads, and while it does every Trio task may be blocked: a
MockClock with ``autojump_threshold=0`` would then jump to the next deadline
while a commit is still on its way to the disk. ``hold_virtual_time`` stops
that for as long as store I/O is in flight (nothing to do on any other
clock), so on virtual time I/O takes no time and a simulation replays.
"""

from __future__ import annotations

import math
import sys
import time
import typing
from typing import TYPE_CHECKING

import trio
from trio.lowlevel import RunVar

if TYPE_CHECKING:
    from trio.testing import MockClock

__all__ = [
    "hold_virtual_time",
    "on_virtual_time",
    "release_virtual_time",
    "set_wall_clock",
    "wall_now",
]

# (wall seconds, Trio seconds) read together at the first ``wall_now`` of a run.
_anchor: RunVar[tuple[float, float]] = RunVar("trouper_durable_wall_anchor")


def wall_now() -> float:
    """Wall-clock seconds that advance with Trio's clock (virtual time on a MockClock)."""
    try:
        wall, trio_base = _anchor.get()
    except LookupError:
        wall, trio_base = time.time(), trio.current_time()
        _anchor.set((wall, trio_base))
    return wall + (trio.current_time() - trio_base)


def set_wall_clock(epoch: float) -> None:
    """Make the wall clock of this Trio run read ``epoch`` now, instead of ``time.time()``.

    The times the durable layer writes to a store (when a message died, when
    it is due again, when a dedup id expires) are this clock's: it then
    advances with Trio's clock from ``epoch``. A simulation on virtual time
    calls it first, so that the same seed writes the same times
    (``run_durable_simulation`` does, with 2026-01-01T00:00:00Z). It sets
    this run's clock only, and only before anything has read it: times
    already written would not follow a clock moved after them.

    Raises:
        TypeError: ``epoch`` is not a number.
        ValueError: ``epoch`` is not finite.
        RuntimeError: not in a Trio run, or this run's wall clock was read already.
    """
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        raise TypeError(f"epoch must be a number of seconds, got {epoch!r}")
    if not math.isfinite(epoch):
        raise ValueError(f"epoch must be a finite number of seconds, got {epoch!r}")
    try:
        now = trio.current_time()
    except RuntimeError:
        raise RuntimeError("set_wall_clock must be called in a Trio run") from None
    try:
        _anchor.get()
    except LookupError:
        _anchor.set((float(epoch), now))
        return
    raise RuntimeError(
        "the wall clock of this Trio run was read already (a store opened, or a message was "
        "stored): set it first, before anything reads it"
    )


class _Hold:
    """How many store operations hold a MockClock's autojump, and what to restore."""

    __slots__ = ("count", "saved")

    def __init__(self) -> None:
        # Operations in flight; the autojump threshold is infinite while > 0.
        self.count = 0
        # The threshold the clock had before the first hold (restored at 0).
        self.saved = math.inf


_holds: RunVar[_Hold | None] = RunVar("trouper_durable_clock_hold")


def _hold_state() -> _Hold | None:
    try:
        return _holds.get()
    except LookupError:
        state = _Hold() if _mock_clock() is not None else None
        _holds.set(state)
        return state


def _mock_clock() -> MockClock | None:
    """This run's clock if it is a MockClock, else None.

    ``trio.testing`` is not imported here: it imports pytest (about 80 ms),
    and a run whose clock is a MockClock has imported it already.
    """
    testing = sys.modules.get("trio.testing")
    clock = trio.lowlevel.current_clock()
    if testing is not None and isinstance(clock, testing.MockClock):
        return typing.cast("MockClock", clock)
    return None


def on_virtual_time() -> bool:
    """Whether this run's clock is a MockClock (the holds then matter; else they do nothing)."""
    return _hold_state() is not None


def hold_virtual_time() -> None:
    """Keep a MockClock from autojumping until the matching ``release_virtual_time``."""
    state = _hold_state()
    if state is None:
        return
    if state.count == 0:
        clock = _mock_clock()
        assert clock is not None
        state.saved = clock.autojump_threshold
        clock.autojump_threshold = math.inf
    state.count += 1


def release_virtual_time() -> None:
    """Undo one ``hold_virtual_time``; the last one restores the autojump threshold."""
    state = _hold_state()
    if state is None:
        return
    state.count -= 1
    if state.count == 0:
        clock = _mock_clock()
        assert clock is not None
        clock.autojump_threshold = state.saved
