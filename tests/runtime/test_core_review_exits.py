"""Review fix: a failure beats the exit the actor asked for (``ctx.stop()`` then a raise)."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.runtime import EventKind


@attrs.frozen
class StopThenCrash:
    pass


@attrs.frozen
class Ping:
    pass


class Quitter(Actor):
    """Counts its starts; ``StopThenCrash`` calls ``ctx.stop()`` and then raises."""

    def __init__(self, starts: list[float]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(trio.current_time())

    @handler
    async def stop_then_crash(self, message: StopThenCrash) -> None:
        self.ctx.stop()
        raise RuntimeError("boom")

    @handler
    async def ping(self, message: Ping) -> str:
        return "pong"


async def test_a_handler_that_stops_itself_and_then_raises_has_failed() -> None:
    """``ctx.stop()`` followed by an exception is a failure: a transient actor is restarted."""
    starts: list[float] = []
    events: list[tuple[EventKind, str]] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(lambda event: events.append((event.kind, repr(event.reason))))
        ref = await rt.spawn(Quitter, starts, name="quitter")
        await ref.tell(StopThenCrash())
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Ping()) == "pong"
        assert len(starts) == 2
        assert events == [
            (EventKind.STARTED, "None"),
            (EventKind.FAILED, "RuntimeError('boom')"),
            (EventKind.RESTARTED, "RuntimeError('boom')"),
            (EventKind.STARTED, "None"),
        ]


async def test_a_watcher_learns_the_failure_of_an_actor_that_stopped_itself_and_raised() -> None:
    """A temporary actor that calls ``ctx.stop()`` and raises stops with its error as reason."""
    terminated: list[trouper.Terminated] = []

    class Watcher(Actor):
        def __init__(self, target: trouper.ActorRef[object]) -> None:
            self.target = target

        async def on_start(self) -> None:
            self.ctx.watch(self.target)

        @handler
        async def terminated(self, message: trouper.Terminated) -> None:
            terminated.append(message)

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Quitter, [], restart=trouper.Restart.TEMPORARY)
        await rt.spawn(Watcher, ref)
        await ref.tell(StopThenCrash())
        await trio.testing.wait_all_tasks_blocked()
        assert [repr(t.reason) for t in terminated] == ["RuntimeError('boom')"]
