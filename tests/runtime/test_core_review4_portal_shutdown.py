"""Review: a thread blocked in a portal call as the Trio run ends gets ``RuntimeClosed``.

Trio cancels the task running the call as the run ends; the thread used to
get ``trio.Cancelled``, which is no error of trouper's and which a thread has
no cancel scope to absorb.
"""

from __future__ import annotations

import threading

import pytest
import trio

import trouper
from trouper.errors import RuntimeClosed
from trouper.runtime import Portal

pytestmark = pytest.mark.real_clock


def test_a_portal_call_cut_short_by_the_end_of_the_run_raises_runtime_closed() -> None:
    """The thread's ``portal.run`` raises ``RuntimeClosed``, not ``trio.Cancelled``."""
    outcome: list[BaseException | str] = []

    def blocked(portal: Portal, started: threading.Event) -> None:
        async def wait_for_ever() -> None:
            started.set()
            await trio.sleep_forever()

        try:
            portal.run(wait_for_ever)
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append("returned")

    started = threading.Event()

    async def main() -> threading.Thread:
        async with trouper.open_runtime() as rt:
            thread = threading.Thread(target=blocked, args=(rt.portal, started))
            thread.start()
            await trio.to_thread.run_sync(started.wait)
        return thread

    thread = trio.run(main)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeClosed), outcome[0]
    assert str(outcome[0]) == (
        "the runtime of node 'local' is closed: it takes no new actors or calls"
    )
