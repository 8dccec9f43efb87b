"""Arguments of the wrong kind to traces and probes are refused, saying what was expected."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import trouper
from trouper.testing import Simulation, TestProbe, Trace, TraceEvent, run_simulation


class Echo(trouper.Actor):
    """Answers what it is asked."""

    @trouper.handler
    async def echo(self, message: str) -> str:
        return message


async def hello(sim: Simulation) -> trouper.ActorRef[object]:
    """Asks /bob once and returns its ref."""
    bob = await sim.runtime.spawn(Echo, name="bob")
    await bob.ask("hello")
    return bob


def test_filtering_by_a_ref_instead_of_a_path_is_refused() -> None:
    """``filter(actor=ref)`` would match nothing, silently: it says to pass the path."""
    result = run_simulation(hello, seed=0)
    assert result.value is not None
    assert len(result.trace.filter(actor="/bob")) == 4  # started, deliver, handled, stopped
    with pytest.raises(
        TypeError,
        match=r"^actor must be an actor's path, a str such as '/bank/bob' \(a ref's is "
        r"ref\.address\.path\), got <ActorRef trouper://sim/bob>$",
    ):
        result.trace.filter(actor=result.value)  # type: ignore[arg-type]


def test_filtering_by_text_that_is_not_a_str_is_refused() -> None:
    """``contains=`` is text searched in each event's detail."""
    trace = Trace([TraceEvent(0.0, "send", "<main>", "tell 3 -> /bob")])
    with pytest.raises(TypeError, match=r"^contains must be a str, got 3$"):
        trace.filter(contains=3)  # type: ignore[arg-type]


def test_first_difference_with_something_else_than_a_trace_is_refused() -> None:
    """A list of events is not a ``Trace``: wrap it (``Trace(events)``)."""
    events = [TraceEvent(0.0, "send", "<main>", "tell 3 -> /bob")]
    with pytest.raises(
        TypeError, match=r"^first_difference compares with a Trace \(Trace\(events\)\), got \[.*\]$"
    ):
        Trace(events).first_difference(events)  # type: ignore[arg-type]


def test_a_probe_needs_a_runtime() -> None:
    """``TestProbe(rt)`` takes the runtime, not its name or anything else."""
    with pytest.raises(TypeError, match=r"^TestProbe needs the Runtime it belongs to, got 'sim'$"):
        TestProbe("sim")  # type: ignore[arg-type]


async def test_expect_terminated_needs_a_ref(
    runtime: trouper.Runtime, probe: Callable[..., TestProbe]
) -> None:
    """``expect_terminated`` watches an ``ActorRef``; a path is refused, saying so."""
    p = probe()
    with pytest.raises(TypeError, match=r"^expect_terminated watches an ActorRef, got '/bob'$"):
        await p.expect_terminated("/bob")  # type: ignore[arg-type]
