"""Review: the trace of a fault on an ask names the receiver, as a tell's does."""

from __future__ import annotations

from trouper import Actor, handler
from trouper.testing import Delay, Drop, Duplicate, FaultPlan, Simulation, run_simulation

PAIR = ("<main>", "/echo")


class Echo(Actor):
    """Answers any string with itself."""

    @handler
    async def echo(self, msg: str) -> str:
        return msg


async def ask_once(sim: Simulation) -> object:
    echo = await sim.runtime.spawn(Echo, name="echo")
    return await echo.ask("hello")


def test_a_delayed_and_duplicated_ask_is_traced_with_its_receiver() -> None:
    """``contains="-> /echo"`` finds every fault on the way to ``/echo``."""
    plan = FaultPlan(Delay(PAIR, 1.0, delay=1.0), Duplicate(PAIR, 1.0))
    result = run_simulation(ask_once, seed=1, faults=plan)
    assert result.value == "hello"
    assert [e.detail for e in result.trace.filter("fault", contains="-> /echo")] == [
        "delay 1.0000s ask 'hello' -> /echo",
        "duplicate ask 'hello' -> /echo",
    ]


def test_a_dropped_ask_is_traced_with_its_receiver() -> None:
    """The drop of an ask reads as the drop of a tell does, with ``ask``."""
    result = run_simulation(ask_once, seed=1, faults=FaultPlan(Drop(PAIR, 1.0)), max_time=5)
    assert result.trace.filter("fault")[0].detail == "drop ask 'hello' -> /echo"
