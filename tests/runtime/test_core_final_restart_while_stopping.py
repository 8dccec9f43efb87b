"""Final review: a restart asked for while the actor stops for good is no restart.

``rt.restart`` of an actor whose stop is under way returns without restarting
it (the actor stops), but its supervisor counted a restart and reported
``RESTARTED`` for it: the event log and the simulation trace told of a
restart that never happened.
"""

from __future__ import annotations

import trio
import trio.testing

import trouper
from trouper import Actor
from trouper.runtime import ActorEvent, EventKind


class SlowStop(Actor):
    async def on_stop(self) -> None:
        await trio.sleep(5)


async def test_a_restart_asked_for_during_a_stop_reports_no_restart() -> None:
    """Only STOPPED is reported; rt.restart returns once the stop is over."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.RESTARTED, EventKind.STOPPED])
        slow = await rt.spawn(SlowStop, name="slow")
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rt.stop, slow)
            await trio.testing.wait_all_tasks_blocked()  # on_stop is running
            await rt.restart(slow)
            assert trio.current_time() - start == 5
    assert [(e.kind.value, e.address.path, e.time - start) for e in events] == [
        ("stopped", "/slow", 5)
    ]
