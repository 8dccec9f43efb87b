"""One task waiting for one result, which may come before the task starts waiting.

Shared by the NATS client (a request, a flush's PONG) and trouper.remote (an
ask across nodes): the result is set at most once, from a callback or
another task; ``wait`` returns it, or parks the task until it comes.
Cancelled while it waits, the task gives up and a later result is dropped.
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

import outcome
from trio.lowlevel import (
    Abort,
    Task,
    cancel_shielded_checkpoint,
    current_task,
    reschedule,
    wait_task_rescheduled,
)

__all__ = ["Waiter"]

T = TypeVar("T")

_GIVEN_UP: outcome.Outcome[object] = outcome.Value(None)
"""The result of a wait its task gave up: whatever comes later is dropped."""


class Waiter(Generic[T]):
    """One task waiting for one result (``settle`` it once; ``wait`` for it)."""

    __slots__ = ("result", "task")

    def __init__(self) -> None:
        self.task: Task | None = None
        # The task parked in wait(), while it is parked.
        self.result: outcome.Outcome[T] | None = None
        # The result once settled; set at most once.

    def settle(self, result: outcome.Outcome[T]) -> None:
        """Hand ``result`` to the waiting task, now or when it waits. Idempotent."""
        if self.result is not None:
            return
        self.result = result
        task = self.task
        if task is not None:
            self.task = None
            reschedule(task, result)

    async def wait(self) -> T:
        """Return the result, waiting for it; cancelled, the wait is given up."""
        result = self.result
        if result is not None:
            await cancel_shielded_checkpoint()
            return result.unwrap()
        self.task = current_task()
        value: T = await wait_task_rescheduled(self.give_up)
        return value

    def give_up(self, _: object) -> Abort:
        """The abort of ``wait`` (for callers that park themselves): drop what comes later."""
        self.task = None
        self.result = cast("outcome.Outcome[T]", _GIVEN_UP)
        return Abort.SUCCEEDED
