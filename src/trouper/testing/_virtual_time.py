"""Running Trio on virtual time: what the plugin's fixtures run under, for other tests too.

Also ``settle``: wait until every other task waits (virtual time stands still meanwhile),
bounded for a task that never waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
import trio.testing

__all__ = ["run_on_virtual_time"]


def run_on_virtual_time(
    fn: Callable[[], Any], *, clock: trio.abc.Clock | None = None, **options: Any
) -> Any:
    """``trio.run(fn)`` on ``MockClock(autojump_threshold=0)`` unless a ``clock`` is given.

    The runner of the ``runtime`` and ``probe`` fixtures; a conftest may give it
    to every async test (``pytest.mark.trio(run=run_on_virtual_time)``).
    """
    return trio.run(fn, clock=clock or trio.testing.MockClock(autojump_threshold=0), **options)


SETTLE_STEPS = 10_000
"""Task steps ``settle`` waits for the other tasks to end or wait; one still stepping never waits.

The ``runtime`` fixture's leak check and a probe's wait at its deadline settle so."""


class _Spins(trio.abc.Instrument):
    """Counts task steps for ``settle`` and cuts its wait short past ``SETTLE_STEPS``."""

    def __init__(self, waiter: trio.lowlevel.Task, scope: trio.CancelScope) -> None:
        self.waiter = waiter
        # The task that waits: its own steps do not count.
        self.scope = scope
        # Around the wait: cancelled past the bound.
        self.steps = 0
        self.last: dict[trio.lowlevel.Task, int] = {}
        # The step at which each task last stepped.

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.waiter:
            return
        self.steps += 1
        self.last[task] = self.steps
        if self.steps == SETTLE_STEPS:
            self.scope.cancel()

    def spinning(self) -> set[trio.lowlevel.Task]:
        """The tasks that stepped near the bound: they never wait."""
        if self.steps < SETTLE_STEPS:
            return set()
        return {task for task, step in self.last.items() if step > SETTLE_STEPS // 2}


async def settle() -> set[trio.lowlevel.Task]:
    """Wait until every other task waits, for at most ``SETTLE_STEPS`` of their steps.

    A task that loops on checkpoints without ever waiting would keep
    ``wait_all_tasks_blocked`` (and virtual time) from ever going on. Return
    the tasks still stepping when the bound cut the wait short.
    """
    with trio.CancelScope() as scope:
        spins = _Spins(trio.lowlevel.current_task(), scope)
        trio.lowlevel.add_instrument(spins)
        try:
            await trio.testing.wait_all_tasks_blocked()
        finally:
            trio.lowlevel.remove_instrument(spins)
    return spins.spinning()
