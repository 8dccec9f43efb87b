"""Timers: ``send_later`` and ``every``, each a small task in its actor's nursery."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from trouper.actors import ActorRef, Timer
from trouper.runtime._cell import act_for, check_reachable
from trouper.runtime._lifecycle import Command

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
    """Schedule ``message`` for ``target`` after ``delay``, then every ``interval`` if given.

    A tell that raises (a consistent-hash pool's ``key``) ends the timer and
    fails its actor with the error, as a handler's tell would. Called from
    outside the runtime's Trio run (another thread) it raises ``RuntimeError``
    and schedules nothing; given a ref of a runtime in another thread (an actor
    of it, or a remote actor's ref it made: no tell from this thread goes
    through either), ``ValueError``, and schedules nothing.
    """
    what = "send_later" if interval is None else "every"
    cell.runtime.check_thread(what)
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
    # Its tell would raise when the timer fired, failing the timer's actor
    # after each restart until its supervisor gave up: refused now.
    check_reachable(
        target,
        what,
        cell.runtime,
        f", where the timer's tell could not reach it: {what} it from that runtime",
    )
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
                try:
                    await target.tell(message)
                except Exception as error:
                    # The tell raised (a hash pool's key): the error is the timer's
                    # actor's, as it would be its handler's, not the runtime's. The
                    # timer ends; a restart starts the instance's timers anew.
                    cell.command(Command.FAIL, error)
                    return
                if interval is None:
                    return
                deadline += interval
    finally:
        act_for(None)
        timer._cell.timers.discard(timer)
