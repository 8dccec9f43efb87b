"""Review: sends to a balancing pool go through the instruments, as a round-robin pool's do.

Fault rules, tracing contexts, metrics and deadlock reports all hang on the send
hooks (``intercept_send``, ``message_sent``, ``message_delivered``); a balancing
pool reports its sends with the pool as the target.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.observe import Metrics
from trouper.routing import Balancing, RoundRobin, Router
from trouper.runtime.lowlevel import Cell, Instrument, SendKind
from trouper.testing import (
    Deadlock,
    Delay,
    Drop,
    Duplicate,
    FaultPlan,
    Simulation,
    run_simulation,
)

JOBS = 40


@attrs.frozen
class Job:
    id: int


@attrs.frozen
class Hang:
    """A job whose handler never returns."""


class Worker(Actor):
    """Notes each job it handles, with the time; hangs on ``Hang``."""

    def __init__(self, handled: list[tuple[float, int]]) -> None:
        self.handled = handled

    @handler
    async def job(self, message: Job) -> int:
        self.handled.append((trio.current_time(), message.id))
        return message.id

    @handler
    async def hang(self, message: Hang) -> None:
        await trio.sleep_forever()


def tell_jobs(router: Router) -> Callable[[Simulation], Awaitable[list[tuple[float, int]]]]:
    async def system(sim: Simulation) -> list[tuple[float, int]]:
        handled: list[tuple[float, int]] = []
        pool = await sim.runtime.spawn_pool(Worker, 2, handled, router=router, name="pool")
        start = trio.current_time()
        for i in range(JOBS):
            await pool.tell(Job(i))
        await trio.sleep(100)
        return [(time - start, job) for time, job in handled]

    return system


@pytest.mark.parametrize(
    ("rule", "faults", "handled"),
    [
        (Drop(("<main>", "/pool*"), 0.5), "drop", lambda faulted: JOBS - faulted),
        (Duplicate(("<main>", "/pool*"), 0.5), "duplicate", lambda faulted: JOBS + faulted),
        (Delay(("<main>", "/pool*"), 0.5, delay=5.0), "delay", lambda faulted: JOBS),
    ],
)
def test_a_fault_rule_applies_to_a_balancing_pool_as_to_a_round_robin_one(
    rule: Drop | Duplicate | Delay, faults: str, handled: Callable[[int], int]
) -> None:
    """The same plan and seed fault the same sends of either pool: same counts, same times."""
    outcomes = []
    for router in (RoundRobin(), Balancing()):
        result = run_simulation(tell_jobs(router), seed=7, faults=FaultPlan(rule))
        assert result.error is None
        assert result.value is not None
        faulted = len(result.trace.filter("fault", contains=faults))
        assert 0 < faulted < JOBS
        assert len(result.value) == handled(faulted)
        outcomes.append((faulted, sorted(result.value)))
    assert outcomes[0] == outcomes[1]


def test_a_hung_ask_to_a_balancing_pool_is_in_the_deadlock_report() -> None:
    """The asker waits on the pool: the report says so, as it does for a plain actor."""

    async def system(sim: Simulation) -> None:
        pool = await sim.runtime.spawn_pool(Worker, 2, [], router=Balancing(), name="pool")
        await pool.ask(Hang())

    result = run_simulation(system, seed=1)
    assert isinstance(result.error, Deadlock)
    assert [wait.split(" (since")[0] for wait in result.error.waits] == [
        "<main> waits for an answer from /pool to Hang()"
    ]


class Tracer(Instrument):
    """Carries a numbered context with each job; notes what the hooks saw."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, SendKind]] = []
        self.delivered: list[str] = []
        self.started: list[tuple[str, int, object]] = []

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        if not isinstance(message, Job):
            return None
        self.sent.append((actor.address.path, kind))
        return f"context of {message.id}"

    def message_delivered(self, actor: Cell, message: object) -> None:
        if isinstance(message, Job):
            self.delivered.append(actor.address.path)

    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        if isinstance(message, Job):
            self.started.append((actor.address.path.rpartition("/")[0], message.id, context))


async def test_a_traced_send_to_a_balancing_pool_carries_its_context_to_the_member() -> None:
    """Each way of sending: sent and delivered to the pool, the context reaches the handler."""
    tracer = Tracer()
    replies: list[object] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, [], router=Balancing(), name="pool")
        rt.instruments.add(tracer)
        await pool.tell(Job(1))
        pool.tell_nowait(Job(2))
        assert await pool.ask(Job(3)) == 3
        pool.endpoint.ask_soon(Job(4), lambda result: replies.append(result.unwrap()))  # type: ignore[attr-defined]
        await trio.testing.wait_all_tasks_blocked()
    assert replies == [4]
    assert tracer.sent == [
        ("/pool", SendKind.TELL),
        ("/pool", SendKind.TELL_NOWAIT),
        ("/pool", SendKind.ASK),
        ("/pool", SendKind.ASK),
    ]
    assert tracer.delivered == ["/pool"] * 4
    assert sorted(tracer.started) == [("/pool", n, f"context of {n}") for n in range(1, 5)]


async def test_metrics_time_the_sends_to_a_balancing_pool() -> None:
    """With every message timed, each job told to the pool has its mailbox wait counted."""
    metrics = Metrics(otel=False, histograms=True, sample_every=1, clock=trio.current_time)
    handled: list[tuple[float, int]] = []
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, handled, router=Balancing())
        rt.instruments.add(metrics)
        for i in range(10):
            await pool.tell(Job(i))
        await trio.testing.wait_all_tasks_blocked()
        assert len(handled) == 10
        assert metrics.snapshot().classes["Worker"].mailbox_wait.count == 10
