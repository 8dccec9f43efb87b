"""Review: what a handler's own tasks send is the actor's, for the trace and the fault plan."""

from __future__ import annotations

import trio

from trouper import Actor, ActorRef, handler
from trouper.testing import Drop, FaultPlan, Simulation, Trace, run_simulation


class Sink(Actor):
    """Takes any string."""

    @handler
    async def take(self, message: str) -> None:
        pass


class Source(Actor):
    """On ``1``, tells its sink from a task of its handler's nursery, then from the handler."""

    def __init__(self, sink: ActorRef[object]) -> None:
        self.sink = sink

    @handler
    async def go(self, message: int) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.sink.tell, "from a task of the handler")
        await self.sink.tell("from the handler")


async def source_and_sink(sim: Simulation) -> None:
    sink = await sim.runtime.spawn(Sink, name="sink")
    source = await sim.runtime.spawn(Source, sink, name="source")
    await source.tell(1)
    await trio.sleep(1)


def delivered(trace: Trace) -> list[str]:
    return [event.detail for event in trace.filter("deliver", actor="/sink")]


def test_a_send_from_a_task_of_a_handler_is_the_actors() -> None:
    """The trace names the actor as the sender, not ``<main>``."""
    result = run_simulation(source_and_sink, seed=1)
    senders = {event.detail: event.actor for event in result.trace.filter("send")}
    assert senders["tell 'from a task of the handler' -> /sink"] == "/source"


def test_a_drop_between_actors_drops_what_a_task_of_the_handler_sends() -> None:
    """``Drop(("/source", "/sink"))`` loses both messages of the source."""
    plan = FaultPlan(Drop(("/source", "/sink"), 1.0))
    assert delivered(run_simulation(source_and_sink, seed=1, faults=plan).trace) == []


def test_a_drop_of_the_systems_own_sends_spares_the_actors() -> None:
    """``Drop(("<main>", "/sink"))`` is for the system's code: the source's messages arrive."""
    plan = FaultPlan(Drop(("<main>", "/sink"), 1.0))
    assert sorted(delivered(run_simulation(source_and_sink, seed=1, faults=plan).trace)) == [
        "'from a task of the handler'",
        "'from the handler'",
    ]
