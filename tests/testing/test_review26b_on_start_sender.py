"""A task an actor's ``on_start`` starts in a nursery sends as the actor, as a handler's does."""

from __future__ import annotations

import trio

import trouper
from trouper.testing import Drop, FaultPlan, Simulation, run_simulation


class Sink(trouper.Actor):
    """Takes anything."""

    @trouper.handler
    async def take(self, message: str) -> None:
        pass


class Starter(trouper.Actor):
    """Sends from ``on_start`` itself and from a task it starts there, before any message."""

    def __init__(self, sink: trouper.ActorRef[object]) -> None:
        self.sink = sink

    async def on_start(self) -> None:
        await self.sink.tell("itself")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.sink.tell, "its task")

    @trouper.handler
    async def take(self, message: str) -> None:
        pass


async def start(sim: Simulation) -> None:
    """Spawn the sink and the starter; let the sends land."""
    sink = await sim.runtime.spawn(Sink, name="sink")
    await sim.runtime.spawn(Starter, sink, name="starter")
    await trio.sleep(1)


def test_the_trace_names_the_actor_as_the_sender() -> None:
    """Both sends are the starter's in the trace, not ``<main>``'s."""
    sends = run_simulation(start, seed=0).trace.filter("send", contains="-> /sink")
    assert [(event.actor, event.detail) for event in sends] == [
        ("/starter", "tell 'itself' -> /sink"),
        ("/starter", "tell 'its task' -> /sink"),
    ]


def test_the_fault_plan_applies_to_the_actor_not_to_main() -> None:
    """A drop of the starter's messages drops both; a drop of ``<main>``'s drops neither."""
    of_starter = run_simulation(
        start, seed=0, faults=FaultPlan(Drop(("/starter", "/sink"), probability=1.0))
    )
    of_main = run_simulation(
        start, seed=0, faults=FaultPlan(Drop(("<main>", "/sink"), probability=1.0))
    )
    assert len(of_starter.trace.filter("fault", contains="drop")) == 2
    assert not of_main.trace.filter("fault")
    assert len(of_main.trace.filter("deliver", actor="/sink")) == 2
