"""Review: a callback ask (``Cell.ask_soon``) that ended without a handler is no wait."""

from __future__ import annotations

import attrs
import outcome
import trio

from trouper import Actor, handler
from trouper.runtime.lowlevel import Cell
from trouper.testing import Deadlock, Drop, FaultPlan, Simulation, run_simulation


@attrs.frozen
class Hang:
    """Keep the handler busy for ever."""


@attrs.frozen
class Note:
    """Answered at once."""


class Worker(Actor):
    """Hangs on ``Hang``; answers ``Note``."""

    @handler
    async def hang(self, msg: Hang) -> None:
        await trio.sleep_forever()

    @handler
    async def note(self, msg: Note) -> str:
        return "noted"


def test_a_callback_ask_its_actors_stop_answered_is_not_reported_as_a_wait() -> None:
    """Queued behind a hung handler, the ask got ``ActorStopped`` at the stop: it is over."""
    replies: list[outcome.Outcome[object]] = []

    async def system(sim: Simulation) -> object:
        worker = await sim.runtime.spawn(Worker, name="worker", shutdown=1)
        cell = worker.endpoint
        assert isinstance(cell, Cell)
        await worker.tell(Hang())
        cell.ask_soon(Note(), replies.append)
        await sim.runtime.stop(worker)
        await trio.Event().wait()  # the deadlock, on nothing of the actors
        return None

    result = run_simulation(system, seed=1)
    assert len(replies) == 1
    assert isinstance(result.error, Deadlock)
    assert result.error.waits == ()


def test_a_dropped_callback_ask_is_not_reported_as_a_wait() -> None:
    """No task waits for a callback ask: its loss leaves nobody waiting on the actor."""

    async def system(sim: Simulation) -> object:
        worker = await sim.runtime.spawn(Worker, name="worker")
        cell = worker.endpoint
        assert isinstance(cell, Cell)
        cell.ask_soon(Note(), lambda _: None).abandon()
        await trio.Event().wait()  # the deadlock, on nothing of the actors
        return None

    plan = FaultPlan(Drop(("<main>", "/worker"), 1.0))
    result = run_simulation(system, seed=1, faults=plan)
    assert result.trace.filter("fault", contains="drop")
    assert isinstance(result.error, Deadlock)
    assert result.error.waits == ()
