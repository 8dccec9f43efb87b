"""Review: a probe in a simulated system replays under the same path in every run of a seed."""

from __future__ import annotations

import attrs
import pytest

import trouper
from trouper.testing import Simulation, TestProbe, explore, run_simulation


@attrs.frozen
class Hello:
    """Ask a ``Greeter`` to greet ``to``."""

    to: trouper.ActorRef[object]


class Greeter(trouper.Actor):
    """Greets whoever a ``Hello`` names."""

    @trouper.handler
    async def hello(self, msg: Hello) -> None:
        await msg.to.tell("hi")


async def greet(sim: Simulation) -> str:
    """A greeter greets a probe; return the probe's path."""
    probe = TestProbe(sim.runtime)
    greeter = await sim.runtime.spawn(Greeter, name="greeter")
    await greeter.tell(Hello(probe))
    await probe.expect("hi")
    return probe.address.path


def test_an_unnamed_probe_has_the_same_path_in_every_run_of_a_seed() -> None:
    """The probe's number is the runtime's, not the process's: the trace is the same twice."""
    first = run_simulation(greet, seed=1)
    second = run_simulation(greet, seed=1)
    assert (first.error, first.value) == (None, "/probe/1")
    assert second.value == first.value
    assert second.trace.first_difference(first.trace) is None


def test_the_replay_line_of_a_system_with_a_probe_gives_the_explored_trace() -> None:
    """A seed that broke after other seeds ran replays to the very trace ``explore`` saw."""
    report = explore(greet, seeds=[0, 1, 2], check=lambda result: result.seed != 2)
    assert report.failure is not None
    assert report.replay == f"run_simulation({__name__}.greet, seed=2, faults=FaultPlan())"
    replayed = run_simulation(greet, seed=2)
    assert replayed.value == report.failure.value == "/probe/1"
    assert replayed.trace.first_difference(report.failure.trace) is None


async def test_unnamed_probes_of_one_runtime_get_distinct_paths(runtime: trouper.Runtime) -> None:
    """Numbered per runtime, two probes of one runtime still differ."""
    paths = {TestProbe(runtime).address.path for _ in range(3)}
    assert paths == {"/probe/1", "/probe/2", "/probe/3"}


async def test_a_second_probe_of_the_same_name_in_one_runtime_is_refused(
    runtime: trouper.Runtime,
) -> None:
    """Two probes at one path would be equal refs: the second is refused with the reason."""
    TestProbe(runtime, "client")
    with pytest.raises(ValueError, match=r"^a probe named 'client' exists in this runtime$"):
        TestProbe(runtime, "client")


async def test_an_unnamed_probe_skips_a_number_taken_by_name(runtime: trouper.Runtime) -> None:
    """``TestProbe(runtime, "1")`` first: the first unnamed one is ``/probe/2``."""
    TestProbe(runtime, "1")
    assert TestProbe(runtime).address.path == "/probe/2"
