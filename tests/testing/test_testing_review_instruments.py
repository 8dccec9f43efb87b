"""Review: a tell both delayed and duplicated by the fault plan arrives twice, after the delay."""

from __future__ import annotations

import pytest
import trio

from trouper import Actor, handler
from trouper.testing import Delay, Duplicate, FaultPlan, Simulation, run_simulation

PLAN = FaultPlan(Delay(("<main>", "/log"), 1.0, delay=1.0), Duplicate(("<main>", "/log"), 1.0))


class Log(Actor):
    """Notes each string it handles, with the time."""

    def __init__(self, seen: list[tuple[float, str]]) -> None:
        self.seen = seen

    @handler
    async def note(self, message: str) -> None:
        self.seen.append((trio.current_time(), message))


@pytest.mark.parametrize("nowait", [False, True])
def test_a_delayed_and_duplicated_tell_is_handled_twice_after_the_delay(nowait: bool) -> None:
    """Both rules fire: two copies arrive one second late, and the trace records both faults."""

    async def system(sim: Simulation) -> list[tuple[float, str]]:
        seen: list[tuple[float, str]] = []
        log = await sim.runtime.spawn(Log, seen, name="log")
        start = trio.current_time()
        if nowait:
            log.tell_nowait("hello")
        else:
            await log.tell("hello")
        await trio.sleep(10)
        return [(time - start, message) for time, message in seen]

    result = run_simulation(system, seed=3, faults=PLAN)
    assert result.error is None
    assert result.value == [(1.0, "hello"), (1.0, "hello")]
    faults = [event.detail for event in result.trace.filter("fault")]
    assert faults == ["delay 1.0000s 'hello' -> /log", "duplicate 'hello' -> /log"]
