"""Review 9: ``rt.restart`` of an actor whose new instance fails to start."""

from __future__ import annotations

import trio.testing

import trouper
from trouper import Actor, ActorState, handler
from trouper.runtime import EventKind


class Flaky(Actor):
    """Its second ``on_start`` (the first restart's) raises."""

    def __init__(self, starts: list[int]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(len(self.starts) + 1)
        if len(self.starts) == 2:
            raise ValueError("second start fails")

    @handler
    async def echo(self, message: str) -> str:
        return message


async def test_a_restart_whose_start_fails_returns_and_the_supervisor_decides() -> None:
    """It returns once the new ``on_start`` has run; its failure is one the supervisor handles."""
    starts: list[int] = []
    events: list[tuple[EventKind, str]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Flaky, starts, name="flaky")
        with rt.events.listen(
            lambda e: events.append((e.kind, str(e.reason or ""))),
            kinds=[EventKind.RESTARTED, EventKind.FAILED],
        ):
            await rt.restart(ref)
            assert starts == [1, 2]
            await trio.testing.wait_all_tasks_blocked()
        info = rt.tree().find("/flaky")
        assert info is not None
        assert (info.state, info.restart_count, starts) == (ActorState.RUNNING, 2, [1, 2, 3])
        assert await ref.ask("hi") == "hi"
    assert events == [
        (EventKind.RESTARTED, ""),
        (EventKind.FAILED, "second start fails"),
        (EventKind.RESTARTED, "second start fails"),
    ]
