"""Review 5: an ask a ``Delay`` holds back is a wait from the moment it is made."""

from __future__ import annotations

import trio

import trouper
from trouper.testing import (
    Deadlock,
    Delay,
    FaultPlan,
    MaxTimeExceeded,
    Simulation,
    run_simulation,
)


class Echo(trouper.Actor):
    """Answers with what it got."""

    @trouper.handler
    async def echo(self, message: int) -> int:
        return message


class Stuck(trouper.Actor):
    """Never answers: its handler waits for an event nobody sets."""

    def __init__(self) -> None:
        self.never = trio.Event()

    @trouper.handler
    async def wait(self, message: str) -> None:
        await self.never.wait()


async def ask_echo(sim: Simulation) -> object:
    """Ask /echo once."""
    echo = await sim.runtime.spawn(Echo, name="echo")
    return await echo.ask(1)


def test_a_run_that_ends_while_an_ask_is_delayed_lists_its_asker() -> None:
    """At max_time, the request is still on its way: its asker waits for the answer."""
    delayed = FaultPlan(Delay(("<main>", "/echo"), 1, delay=20))
    error = run_simulation(ask_echo, seed=1, max_time=10, faults=delayed).error
    assert isinstance(error, MaxTimeExceeded), error
    assert error.waits == ("<main> waits for an answer from /echo to 1 (since t=0.0000)",)


def test_a_delayed_ask_waits_since_it_was_made() -> None:
    """The deadlock report dates the wait from the ask, not from the request's late arrival."""

    async def system(sim: Simulation) -> object:
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        return await stuck.ask("x")

    delayed = FaultPlan(Delay(("<main>", "/stuck"), 1, delay=0.5))
    error = run_simulation(system, seed=1, faults=delayed).error
    assert isinstance(error, Deadlock), error
    assert error.time == 0.5
    assert error.waits == ("<main> waits for an answer from /stuck to 'x' (since t=0.0000)",)


def test_a_delayed_ask_given_up_is_no_wait_and_leaves_none_behind() -> None:
    """Given up during its delay, it is not listed; the next ask of that task is, on its own."""

    async def system(sim: Simulation) -> object:
        echo = await sim.runtime.spawn(Echo, name="echo")
        stuck = await sim.runtime.spawn(Stuck, name="stuck")
        with trio.move_on_after(1):
            await echo.ask(1)
        return await stuck.ask("x")

    delayed = FaultPlan(Delay(("<main>", "/echo"), 1, delay=5))
    error = run_simulation(system, seed=1, faults=delayed).error
    assert isinstance(error, Deadlock), error
    assert error.waits == ("<main> waits for an answer from /stuck to 'x' (since t=1.0000)",)
