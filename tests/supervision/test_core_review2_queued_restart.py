"""Review fix: a restart queued behind other supervisor work returns when the supervisor stops.

And (final review) a restart asked for while the actor stops for good is no
restart: ``rt.restart`` returned without restarting it, but its supervisor
counted a restart and reported ``RESTARTED`` for it.
"""

from __future__ import annotations

import trio
import trio.testing

import trouper
from trouper import Actor
from trouper.runtime import ActorEvent, EventKind
from trouper.supervision import ChildSpec


class SlowStop(Actor):
    """Takes a second to stop, so a restart of it keeps its supervisor busy."""

    async def on_stop(self) -> None:
        await trio.sleep(1)


async def test_a_restart_queued_when_its_supervisor_stops_returns() -> None:
    """``rt.restart`` waiting behind another restart returns once the supervisor has stopped."""
    returned: list[str] = []
    async with trouper.open_runtime() as rt:
        specs = [ChildSpec("a", SlowStop), ChildSpec("b", SlowStop)]
        supervisor = await rt.spawn(trouper.Supervisor, specs, name="sup")
        a, b = rt.find("/sup/a"), rt.find("/sup/b")
        assert a is not None
        assert b is not None

        async def restart(ref: trouper.ActorRef[object]) -> None:
            await rt.restart(ref)
            returned.append(ref.address.path)

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(restart, a)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(restart, b)  # queued: the supervisor is restarting a
                await trio.testing.wait_all_tasks_blocked()
                await rt.stop(supervisor)
        assert sorted(returned) == ["/sup/a", "/sup/b"]
        assert rt.find("/sup/b") is None


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
            assert trio.current_time() - start == 1
    assert [(e.kind.value, e.address.path, e.time - start) for e in events] == [
        ("stopped", "/slow", 1)
    ]
