"""Review: when several send rules fire on one message, a drop wins; delays and duplicates add."""

from __future__ import annotations

import random

import trio

from trouper import Actor, handler
from trouper.testing import Delay, Drop, Duplicate, FaultPlan, Simulation, run_simulation

PAIR = ("<main>", "/log")
ALL = FaultPlan(Drop(PAIR, 1.0), Delay(PAIR, 1.0, delay=2.0), Duplicate(PAIR, 1.0))


def test_a_dropped_message_is_neither_delayed_nor_duplicated() -> None:
    """``route`` says lost, and nothing else, when a drop fires beside a delay and a duplicate."""
    route = ALL.route("<main>", "/log", random.Random(1))
    assert (route.drop, route.delay, route.duplicate) == (True, 0.0, False)


def test_a_delay_and_a_duplicate_that_fire_together_both_apply() -> None:
    """Without a drop, the message arrives twice, both copies late."""
    plan = FaultPlan(Delay(PAIR, 1.0, delay=2.0), Duplicate(PAIR, 1.0))
    route = plan.route("<main>", "/log", random.Random(1))
    assert (route.drop, route.delay, route.duplicate) == (False, 2.0, True)


class Log(Actor):
    """Handles any string."""

    @handler
    async def note(self, msg: str) -> None:
        pass


async def tell_one(sim: Simulation) -> None:
    log = await sim.runtime.spawn(Log, name="log")
    await log.tell("hello")
    await trio.sleep(10)


def test_a_message_every_rule_fires_on_is_only_dropped() -> None:
    """The trace shows one fault, the drop, and the message never arrives."""
    trace = run_simulation(tell_one, seed=1, faults=ALL).trace
    assert [e.detail for e in trace.filter("fault")] == ["drop 'hello' -> /log"]
    assert len(trace.filter("deliver")) == 0
