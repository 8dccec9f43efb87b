"""Review: a batch refused while its own sender commits it is not answered by waking that sender.

A ``durable_ref`` tell too large for the server is refused as its batch is
sent, within the sender's own call: the store rescheduled the sender's task,
still running, which Trio allows only for a task blocked in
``wait_task_rescheduled`` (its instruments heard the running task
"scheduled", and a cancellation due at that moment left the task recorded in
the store as leaving, for good).
"""

from __future__ import annotations

import inspect
import types

import pytest
import trio
from js_support import Done, store_for

import trouper
from trouper.durable import durable_ref
from trouper.errors import StoreRefused
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class RunningScheduled(trio.abc.Instrument):
    """Notes each task that code outside Trio scheduled while it was the one running.

    Trio's run loop reschedules a task at its checkpoints while it is still
    the current one; only a call from elsewhere (``trio.lowlevel.reschedule``)
    breaks the rule.
    """

    def __init__(self) -> None:
        self.running: list[str] = []

    def task_scheduled(self, task: trio.lowlevel.Task) -> None:
        if task is not trio.lowlevel.current_task():
            return
        here = inspect.currentframe()
        frame: types.FrameType | None = None if here is None else here.f_back  # Instruments.call
        while frame is not None and frame.f_code.co_name != "reschedule":
            frame = frame.f_back
        # Past Runner.reschedule and trio.lowlevel.reschedule's wrapper, to who called it.
        while frame is not None and frame.f_code.co_name == "reschedule":
            frame = frame.f_back
        module = "" if frame is None else frame.f_globals.get("__name__", "")
        if not module.startswith("trio."):
            self.running.append(f"{task.name[-40:]} by {module}")


async def test_a_durable_ref_tell_refused_at_its_commit_raises_without_rescheduling_its_task(
    js_server: NatsServer, prefix: str
) -> None:
    """The tell raises ``StoreRefused``; no task was scheduled while it ran."""
    spy = RunningScheduled()
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "elsewhere")
        trio.lowlevel.add_instrument(spy)
        try:
            with pytest.raises(StoreRefused, match=r"too large for a durable mailbox"):
                await ref.tell(Done(1, "x" * 2_000_000))
        finally:
            trio.lowlevel.remove_instrument(spy)
    assert spy.running == []
