"""Timers: ``send_later`` and ``every``, each a small task in its actor's nursery."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from trouper.actors import ActorRef, Timer
from trouper.runtime._cell import act_for

if TYPE_CHECKING:
    from trouper.runtime._cell import Cell

__all__ = ["start_timer"]


class _Timer(Timer):
    """A scheduled delivery; cancelling it cancels its task's scope."""

    __slots__ = ("_cell", "_scope")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        # The actor that owns the timer (its live timers include this one while active).
        self._scope = trio.CancelScope()
        # The timer task's scope: cancelling it ends the timer.

    def cancel(self) -> None:
        """Stop the timer; a message not yet delivered will not be. Idempotent."""
        self._scope.cancel()
        self._cell.timers.discard(self)

    @property
    def active(self) -> bool:
        """Whether the timer may still deliver a message."""
        return self in self._cell.timers


def start_timer(
    cell: Cell,
    delay: float,
    interval: float | None,
    target: ActorRef[object],
    message: object,
) -> Timer:
    """Schedule ``message`` for ``target`` after ``delay``, then every ``interval`` if given."""
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay < math.inf:
        raise ValueError(f"delay must be finite seconds >= 0, got {delay!r}")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 0 < interval < math.inf
    ):
        raise ValueError(f"interval must be finite seconds > 0, got {interval!r}")
    if not isinstance(target, ActorRef):
        raise TypeError(f"target must be an ActorRef, got {target!r}")
    timer = _Timer(cell)
    cell.timer_nursery.start_soon(_run, timer, delay, interval, target, message)
    cell.timers.add(timer)
    return timer


async def _run(
    timer: _Timer, delay: float, interval: float | None, target: ActorRef[object], message: object
) -> None:
    act_for(timer._cell)
    try:
        with timer._scope:
            deadline = trio.current_time() + delay
            while True:
                await trio.sleep_until(deadline)
                cell = timer._cell
                instruments = cell.runtime.instruments
                if instruments.timer_fired:
                    instruments.timer(cell, target, message)
                await target.tell(message)
                if interval is None:
                    return
                deadline += interval
    finally:
        act_for(None)
        timer._cell.timers.discard(timer)
