"""Review: the timers an instance started in ``__init__`` end with a spawn that fails.

A timer started in ``__init__`` runs at once in the parent's nursery; when the
spawn then failed (``__init__`` raised after starting it, a name taken
meanwhile), no task of the actor ever ran to cancel it: an ``every`` kept
telling its target for the rest of the run, from an actor that never existed.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper import Actor, Timer, handler


class Sink(Actor):
    def __init__(self, seen: list[tuple[float, str]]) -> None:
        self.seen = seen

    @handler
    async def note(self, message: str) -> None:
        self.seen.append((trio.current_time(), message))


class FailsAfterTimers(Actor):
    """Starts a periodic and a one-shot timer, then finds its configuration bad."""

    def __init__(self, sink: trouper.ActorRef[object], timers: list[Timer]) -> None:
        timers.append(self.ctx.every(1, sink, "tick"))
        timers.append(self.ctx.send_later(0.5, sink, "once"))
        raise ValueError("bad configuration")


async def test_timers_started_in_a_failing_init_never_fire() -> None:
    """The spawn raises the init's error; neither timer tells, and both are inactive."""
    seen: list[tuple[float, str]] = []
    timers: list[Timer] = []
    async with trouper.open_runtime() as rt:
        sink = await rt.spawn(Sink, seen)
        with pytest.raises(ValueError, match=r"^bad configuration$"):
            await rt.spawn(FailsAfterTimers, sink, timers)
        assert len(timers) == 2
        assert [timer.active for timer in timers] == [False, False]
        await trio.sleep(5)
    assert seen == []
