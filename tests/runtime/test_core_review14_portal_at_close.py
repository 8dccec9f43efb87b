"""Review 14: a portal call still running when the runtime ends raises ``RuntimeClosed``.

Trio runs a call from a thread in a system task that only the end of the
whole run cancels: with the runtime inside a longer Trio run (an application
that outlives it), a call its end did not finish kept the thread waiting for
good after the runtime had gone.
"""

from __future__ import annotations

import threading

import pytest
import trio

import trouper
from trouper.errors import RuntimeClosed
from trouper.runtime import Portal

pytestmark = pytest.mark.real_clock


async def test_a_portal_call_still_running_as_the_runtime_ends_raises_runtime_closed() -> None:
    """The thread's ``portal.run`` raises ``RuntimeClosed`` though the Trio run goes on."""
    outcome: list[BaseException | str] = []
    started = threading.Event()

    def blocked(portal: Portal) -> None:
        async def wait_for_ever() -> None:
            started.set()
            await trio.sleep_forever()

        try:
            portal.run(wait_for_ever)
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append("returned")

    async with trouper.open_runtime() as rt:
        thread = threading.Thread(target=blocked, args=(rt.portal,), daemon=True)
        thread.start()
        await trio.to_thread.run_sync(started.wait)
    await trio.to_thread.run_sync(thread.join, 10)  # (only a failure takes that long)
    assert not thread.is_alive()
    (error,) = outcome
    assert isinstance(error, RuntimeClosed), error
    assert str(error) == "the runtime of node 'local' is closed: it takes no new actors or calls"
