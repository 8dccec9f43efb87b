"""Durable simulations: kill the runtime at chosen instants, restart it on its store, check."""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

import attrs
import trio

import trouper
from trouper.durable import Durable
from trouper.testing import (
    DurableSimulation,
    DurableSimulationResult,
    TraceKind,
    explore_durable,
    run_durable_simulation,
)

ORDERS = 30


@trouper.message("test.sim.order")
@attrs.frozen
class Order:
    number: int


@trouper.message("test.sim.apply")
@attrs.frozen
class Apply:
    number: int


@attrs.define
class Applied:
    """How many times each order was applied (durable state)."""

    counts: dict[str, int] = attrs.Factory(dict)


class Orders(trouper.Actor):
    """Takes 0.05 s per order, then has it applied (the send commits with the ack)."""

    def __init__(self, ledger: trouper.ActorRef[object]) -> None:
        self.ledger = ledger

    @trouper.handler
    async def order(self, message: Order) -> None:
        await trio.sleep(0.05)
        await self.ledger.tell(Apply(message.number))


class Ledger(trouper.Actor):
    """Applies each order in its durable state; ``done`` once every order is in."""

    state: Applied

    def __init__(self, done: trio.Event) -> None:
        self.done = done

    async def on_start(self) -> None:
        if len(self.state.counts) == ORDERS:
            self.done.set()

    @trouper.handler
    async def apply(self, message: Apply) -> None:
        key = str(message.number)
        self.state.counts[key] = self.state.counts.get(key, 0) + 1
        if len(self.state.counts) == ORDERS:
            self.done.set()

    @trouper.handler
    async def counts(self, message: str) -> dict[str, int]:
        return dict(self.state.counts)


async def pipeline(sim: DurableSimulation) -> dict[str, int]:
    """Each incarnation spawns the pipeline; the first one tells the orders."""
    rt = sim.runtime
    done = trio.Event()
    ledger = await rt.spawn(Ledger, done, name="ledger", mailbox=Durable())
    orders = await rt.spawn(Orders, ledger, name="orders", mailbox=Durable())
    if sim.incarnation == 0:
        for number in range(ORDERS):
            await orders.tell(Order(number), msg_id=f"order-{number}")
    await done.wait()
    counts = await ledger.ask("counts")
    assert isinstance(counts, dict)
    return counts


def applied_once(result: DurableSimulationResult[dict[str, int]]) -> None:
    """Invariants after the last recovery: every order applied exactly once, nothing left."""
    assert result.value == {str(n): 1 for n in range(ORDERS)}
    assert [box.depth for box in result.mailboxes] == [0, 0]
    assert result.dead_letters == ()


def test_a_killed_runtime_restarts_on_its_store_and_loses_nothing() -> None:
    """Killed twice mid-run, the pipeline applies every order exactly once."""
    result = run_durable_simulation(pipeline, seed=1, crashes=(0.3, 0.9))
    assert result.error is None
    assert result.crashes == (0.3, 0.9)
    applied_once(result)
    faults = [e.detail for e in result.trace if e.kind is TraceKind.FAULT]
    assert faults == [
        "crash: the runtime is killed (incarnation 0)",
        "restart: incarnation 1",
        "crash: the runtime is killed (incarnation 1)",
        "restart: incarnation 2",
    ]


def test_the_same_seed_gives_the_same_trace() -> None:
    """Two runs with one seed and one crash plan record identical traces."""
    first = run_durable_simulation(pipeline, seed=5, crashes=(0.4,))
    again = run_durable_simulation(pipeline, seed=5, crashes=(0.4,))
    assert first.trace.render() == again.trace.render()
    assert len(first.trace) > 100


def test_a_crash_after_the_system_returned_does_not_happen() -> None:
    """The run ends with the incarnation whose system returned."""
    result = run_durable_simulation(pipeline, seed=2, crashes=(500.0,))
    assert (result.error, result.crashes) == (None, ())


def random_crashes(rng: Random) -> Sequence[float]:
    """One to three crash instants within the first two seconds."""
    return sorted(rng.uniform(0.0, 2.0) for _ in range(rng.randint(1, 3)))


def test_explore_checks_invariants_after_recovery_over_many_seeds() -> None:
    """Seeds draw their crash instants; after each run every order is applied once."""
    exploration = explore_durable(
        pipeline, seeds=range(8), crashes=random_crashes, check=applied_once
    )
    assert str(exploration) == "explored 8 seeds: every run passed the check"


class Poison(trouper.Actor):
    """Hangs on order 0 (as if it took the process down); applies the others."""

    def __init__(self, ledger: trouper.ActorRef[object]) -> None:
        self.ledger = ledger

    @trouper.handler
    async def order(self, message: Order) -> None:
        if message.number == 0:
            await trio.sleep_forever()
        await self.ledger.tell(Apply(message.number))


async def poisoned(sim: DurableSimulation) -> dict[str, int]:
    rt = sim.runtime
    done = trio.Event()
    ledger = await rt.spawn(Ledger, done, name="ledger", mailbox=Durable())
    orders = await rt.spawn(Poison, ledger, name="orders", mailbox=Durable(max_deliveries=3))
    if sim.incarnation == 0:
        for number in range(ORDERS + 1):
            await orders.tell(Order(number))
    await done.wait()  # orders 1..30: every one but the poison
    counts = await ledger.ask("counts")
    assert isinstance(counts, dict)
    return counts


def test_a_message_that_kills_the_process_dies_after_max_deliveries() -> None:
    """Run alone after each crash, the poison is dead-lettered on its fourth start; others pass."""
    result = run_durable_simulation(poisoned, seed=3, crashes=(1.0, 2.0, 3.0))
    assert result.error is None
    assert result.value == {str(n): 1 for n in range(1, ORDERS + 1)}
    (dead,) = result.dead_letters
    assert (dead.message, dead.attempts) == (Order(0), 3)
    assert dead.reason == (
        "gave up after 3 deliveries: the process stopped while it was being handled"
    )
