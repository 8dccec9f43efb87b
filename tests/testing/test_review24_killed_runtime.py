"""A durable simulation's killed runtime starts no handler, and leaves nothing in the trace."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper.durable import Durable
from trouper.testing import (
    Crash,
    DurableSimulation,
    FaultPlan,
    Trace,
    TraceKind,
    run_durable_simulation,
)

ORDERS = 12


@trouper.message("test.review24.order")
@attrs.frozen
class Order:
    number: int


@trouper.message("test.review24.apply")
@attrs.frozen
class Apply:
    number: int


class Orders(trouper.Actor):
    """Takes 0.05 s per order, then has it applied."""

    def __init__(self, ledger: trouper.ActorRef[object], started: list[int]) -> None:
        self.ledger, self.started = ledger, started

    @trouper.handler
    async def order(self, message: Order) -> None:
        self.started.append(message.number)
        await trio.sleep(0.05)
        await self.ledger.tell(Apply(message.number))


class Ledger(trouper.Actor):
    def __init__(self, done: trio.Event) -> None:
        self.done = done

    @trouper.handler
    async def apply(self, message: Apply) -> None:
        if message.number == ORDERS - 1:
            self.done.set()


def pipeline(started: dict[int, list[int]]):  # type: ignore[no-untyped-def]
    """The system: each incarnation notes the orders whose handler started in it."""

    async def system(sim: DurableSimulation) -> None:
        rt, done = sim.runtime, trio.Event()
        mine = started.setdefault(sim.incarnation, [])
        ledger = await rt.spawn(Ledger, done, name="ledger", mailbox=Durable())
        orders = await rt.spawn(Orders, ledger, mine, name="orders", mailbox=Durable())
        if sim.incarnation == 0:
            for number in range(ORDERS):
                await orders.tell(Order(number), msg_id=f"order-{number}")
        await done.wait()

    return system


def between_kill_and_restart(trace: Trace) -> list[str]:
    """What the trace holds between the kill and the next incarnation."""
    details = [event.detail for event in trace]
    kill = details.index("crash: the runtime is killed (incarnation 0)")
    restart = details.index("restart: incarnation 1")
    return [str(event) for event in trace[kill + 1 : restart]]


def test_a_killed_runtime_starts_no_handler_after_the_kill() -> None:
    """No order is handled after the kill at 0.3 s: the last one started is redelivered."""
    started: dict[int, list[int]] = {}
    result = run_durable_simulation(pipeline(started), seed=0, crashes=(0.3,))
    assert result.error is None, result.error
    assert started[0] == [0, 1, 2, 3, 4, 5]
    assert started[1][0] == 5
    assert between_kill_and_restart(result.trace) == []


def test_the_trace_holds_nothing_of_a_killed_runtime_for_any_seed() -> None:
    """Whichever task Trio runs first at the kill's instant, nothing is traced of the dead."""
    for seed in range(5):
        result = run_durable_simulation(pipeline({}), seed=seed, crashes=(0.3,))
        assert result.error is None, (seed, result.error)
        assert between_kill_and_restart(result.trace) == [], seed


def test_a_crash_at_message_counts_no_delivery_of_a_killed_runtime() -> None:
    """/orders' 7th delivery is the first of the next incarnation: the crash fires there."""
    result = run_durable_simulation(
        pipeline({}), seed=0, crashes=(0.3,), faults=FaultPlan(Crash("/orders", at_message=7))
    )
    assert result.error is None, result.error
    events = list(result.trace.filter(TraceKind.FAULT))
    assert [(e.time, e.actor, e.detail) for e in events] == [
        (0.3, "<main>", "crash: the runtime is killed (incarnation 0)"),
        (0.3, "<main>", "restart: incarnation 1"),
        (0.3, "/orders", "crash at message 7"),
    ]
