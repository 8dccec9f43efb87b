"""Review: an ``on_stop`` that raises is reported as a failure (the stop goes on).

It was only logged: the instruments (the event log's FAILED, a simulation's
trace, the ``runtime`` fixture's strict check) never heard of a lifecycle hook
that raised, though ``EventKind.FAILED`` says it covers them.
"""

from __future__ import annotations

import trouper
from trouper.runtime import ActorEvent, EventKind


class BadStop(trouper.Actor):
    """Its ``on_stop`` raises."""

    async def on_stop(self) -> None:
        raise RuntimeError("could not flush")

    @trouper.handler
    async def note(self, message: str) -> None:
        pass


async def test_an_on_stop_that_raises_is_a_failed_event_and_the_stop_goes_on() -> None:
    """The error is a FAILED event of the actor, before its STOPPED; it stops all the same."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED, EventKind.STOPPED])
        ref = await rt.spawn(BadStop, name="bad")
        await rt.stop(ref)
        assert not await ref.tell("after")  # stopped all the same
    assert [(event.kind, event.address.path) for event in events] == [
        (EventKind.FAILED, "/bad"),
        (EventKind.STOPPED, "/bad"),
    ]
    failed = events[0].reason
    assert isinstance(failed, RuntimeError)
    assert str(failed) == "could not flush"
