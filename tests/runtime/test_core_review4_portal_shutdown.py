"""Review: a thread blocked in a portal call as the runtime or its run ends gets ``RuntimeClosed``.

Trio cancels the task running the call as the run ends; the thread used to
get ``trio.Cancelled``, which is no error of trouper's and which a thread has
no cancel scope to absorb. And Trio runs such a call in a system task that
only the end of the whole run cancels: with the runtime inside a longer Trio
run (an application that outlives it), a call its end did not finish kept
the thread waiting for good after the runtime had gone (review 14).
"""

from __future__ import annotations

import threading

import pytest
import trio

import trouper
from trouper.errors import RuntimeClosed
from trouper.runtime import Portal

pytestmark = pytest.mark.real_clock

CLOSED = "the runtime of node 'local' is closed: it takes no new actors or calls"


def call_for_ever(
    portal: Portal, started: threading.Event, outcome: list[BaseException | str]
) -> None:
    """In a thread: ``portal.run`` a call that never returns; note how it ended."""

    async def wait_for_ever() -> None:
        started.set()
        await trio.sleep_forever()

    try:
        portal.run(wait_for_ever)
    except BaseException as error:
        outcome.append(error)
    else:
        outcome.append("returned")


async def start_blocked_call(
    rt: trouper.Runtime, outcome: list[BaseException | str]
) -> threading.Thread:
    """Start a thread blocked in a portal call of ``rt``; return once the call runs."""
    started = threading.Event()
    thread = threading.Thread(target=call_for_ever, args=(rt.portal, started, outcome), daemon=True)
    thread.start()
    await trio.to_thread.run_sync(started.wait)
    return thread


def test_a_portal_call_cut_short_by_the_end_of_the_run_raises_runtime_closed() -> None:
    """The thread's ``portal.run`` raises ``RuntimeClosed``, not ``trio.Cancelled``."""
    outcome: list[BaseException | str] = []

    async def main() -> threading.Thread:
        async with trouper.open_runtime() as rt:
            return await start_blocked_call(rt, outcome)

    thread = trio.run(main)
    thread.join(timeout=10)
    assert not thread.is_alive()
    (error,) = outcome
    assert isinstance(error, RuntimeClosed), error
    assert str(error) == CLOSED


async def test_a_portal_call_still_running_as_the_runtime_ends_raises_runtime_closed() -> None:
    """The thread's ``portal.run`` raises ``RuntimeClosed`` though the Trio run goes on."""
    outcome: list[BaseException | str] = []
    async with trouper.open_runtime() as rt:
        thread = await start_blocked_call(rt, outcome)
    await trio.to_thread.run_sync(thread.join, 10)  # (only a failure takes that long)
    assert not thread.is_alive()
    (error,) = outcome
    assert isinstance(error, RuntimeClosed), error
    assert str(error) == CLOSED
