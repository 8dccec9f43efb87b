"""Seeded simulations: the seed decides, faults happen only where planned, runs replay."""

from __future__ import annotations

import attrs
import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle
from trouper.testing import (
    Crash,
    Deadlock,
    Delay,
    Drop,
    Duplicate,
    FaultPlan,
    Pause,
    Simulation,
    Trace,
    TraceEvent,
    Uniform,
    explore,
    run_simulation,
    simulate,
)


@attrs.frozen
class Note:
    text: str


class Log(Actor):
    """Keeps what it is told; answers asks with the count so far."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    @handler
    async def note(self, msg: Note) -> int:
        self.notes.append(msg.text)
        return len(self.notes)


class Relay(Actor):
    """Forwards each note to a target, with a short think first."""

    def __init__(self, target: trouper.ActorRef[object]) -> None:
        self.target = target

    @handler
    async def note(self, msg: Note) -> None:
        await trio.sleep(0.01)
        await self.target.tell(msg)


async def race(sim: Simulation) -> None:
    """Two relays race to the same log: the seed decides who goes first."""
    log = await sim.runtime.spawn(Log, name="log")
    relays = [await sim.runtime.spawn(Relay, log, name=f"relay{i}") for i in range(3)]
    for round_ in range(3):
        for i, relay in enumerate(relays):
            await relay.tell(Note(f"{i}.{round_}"))
    await trio.sleep(1)


def handled_order(trace: Trace) -> list[str]:
    return [e.detail for e in trace.filter("deliver", actor="/log")]


def test_the_same_seed_gives_the_identical_trace() -> None:
    """Twice the same seed: the same events, at the same times, in the same order."""
    first = run_simulation(race, seed=11)
    second = run_simulation(race, seed=11)
    assert first.ok
    assert first.trace == second.trace
    assert first.trace.first_difference(second.trace) is None
    assert len(first.trace) > 30


def test_the_seed_decides_the_order_of_ready_actors() -> None:
    """Different seeds interleave the racing relays differently."""
    orders = {tuple(handled_order(run_simulation(race, seed=seed).trace)) for seed in range(12)}
    assert len(orders) > 1
    assert all(sorted(order) == sorted(next(iter(orders))) for order in orders)


def test_crash_at_the_nth_message() -> None:
    """``Crash(at_message=n)`` fails the actor exactly at its n-th message."""
    result = run_simulation(race, seed=3, faults=FaultPlan(Crash("/log", at_message=4)))
    faults = result.trace.filter("fault")
    assert [(e.actor, e.detail) for e in faults] == [("/log", "crash at message 4")]
    assert [e.kind for e in result.trace.filter(["failed", "restarted"], actor="/log")] == [
        "failed",
        "restarted",
    ]
    assert len(result.trace.filter("dead_letter", contains="InjectedCrash")) == 1


def test_faults_only_happen_where_the_plan_says() -> None:
    """Drops between relay0 and the log touch nothing else."""
    plan = FaultPlan(Drop(("/relay0", "/log"), probability=1.0))
    result = run_simulation(race, seed=5, faults=plan)
    dropped = result.trace.filter("fault")
    assert len(dropped) == 3
    assert all(e.actor == "/relay0" and e.detail.startswith("drop Note") for e in dropped)
    assert sorted(handled_order(result.trace)) == sorted(
        f"Note(text='{i}.{r}')" for i in (1, 2) for r in range(3)
    )


def test_probabilistic_crashes_touch_only_the_named_actors() -> None:
    """A crash probability on relays never crashes the log."""
    result = run_simulation(race, seed=2, faults=FaultPlan(Crash("/relay*", probability=0.5)))
    crashed = {e.actor for e in result.trace.filter("fault")}
    assert crashed
    assert crashed <= {"/relay0", "/relay1", "/relay2"}


def test_delay_moves_a_message_in_virtual_time() -> None:
    """A fixed delay makes the message arrive exactly that much later."""

    async def one(sim: Simulation) -> None:
        log = await sim.runtime.spawn(Log, name="log")
        await log.tell(Note("late"))
        await trio.sleep(10)

    result = run_simulation(one, seed=1, faults=FaultPlan(Delay(("<main>", "/log"), 1.0, 2.5)))
    (deliver,) = result.trace.filter("deliver")
    assert deliver.time == 2.5
    assert result.trace.filter("fault")[0].detail == "delay 2.5000s Note(text='late') -> /log"


def test_duplicate_delivers_twice() -> None:
    """A duplicated tell is handled twice."""

    async def one(sim: Simulation) -> int:
        log = await sim.runtime.spawn(Log, name="log")
        await log.tell(Note("twice"))
        count = await log.ask(Note("after"))
        assert isinstance(count, int)
        return count

    plan = FaultPlan(Duplicate(("<main>", "/log"), probability=1.0))
    result = run_simulation(one, seed=1, faults=plan)
    # "twice" twice, and the ask's own duplicate (a tell) lands before the ask.
    assert result.value == 4
    assert len(result.trace.filter("fault", contains="duplicate")) == 2


def test_pause_holds_messages_until_it_ends() -> None:
    """A paused actor handles what arrived meanwhile when the pause ends."""

    async def one(sim: Simulation) -> None:
        log = await sim.runtime.spawn(Log, name="log")
        await trio.sleep(1)
        await log.tell(Note("during"))
        await trio.sleep(10)

    result = run_simulation(one, seed=1, faults=FaultPlan(Pause("/log", at=0.5, duration=3)))
    (deliver,) = result.trace.filter("deliver")
    assert deliver.time == 3.5


def test_timers_are_traced() -> None:
    """A timer's firing is a ``timer`` event, as from its actor."""

    class Ticker(Actor):
        async def on_start(self) -> None:
            self.ctx.every(2, self.ctx.self_ref, Note("tick"))

        @handler
        async def note(self, msg: Note) -> None:
            pass

    async def one(sim: Simulation) -> None:
        await sim.runtime.spawn(Ticker, name="ticker")
        await trio.sleep(5)

    result = run_simulation(one, seed=1)
    assert [(e.time, e.actor) for e in result.trace.filter("timer")] == [
        (2.0, "/ticker"),
        (4.0, "/ticker"),
    ]


@attrs.frozen
class Ask:
    other: str


class Mutual(Actor):
    @handler
    async def ask_other(self, msg: Ask) -> object:
        other = self.ctx.runtime.lookup(msg.other)
        assert other is not None
        return await other.ask(Ask(self.ctx.self_ref.address.path.lstrip("/")))


@attrs.frozen
class Wait:
    pass


class Hold(Actor):
    """Asks ``/gate`` and waits on an event nobody sets while it answers."""

    def __init__(self) -> None:
        self.never = trio.Event()

    @handler
    async def relay(self, msg: Ask) -> object:
        other = self.ctx.runtime.lookup(msg.other)
        assert other is not None
        return await other.ask(Wait())

    @handler
    async def wait(self, msg: Wait) -> None:
        await self.never.wait()


def test_deadlock_is_found_with_who_waits_on_whom() -> None:
    """A chain of asks ending in a wait nobody ends: the run fails with every wait listed."""

    async def system(sim: Simulation) -> object:
        await sim.runtime.spawn(Hold, name="gate")
        relay = await sim.runtime.spawn(Hold, name="relay")
        return await relay.ask(Ask("gate"))

    result = run_simulation(system, seed=1)
    assert isinstance(result.error, Deadlock)
    text = str(result.error)
    assert text.startswith("deadlock at t=0.0000: every task waits and no timer is pending")
    assert "<main> waits for an answer from /relay to Ask(other='gate')" in text
    assert "/relay waits for an answer from /gate to Wait()" in text


def test_asks_in_a_cycle_fail_at_once_instead_of_deadlocking() -> None:
    """Two actors asking each other: the inner ask raises AskCycle, no deadlock."""

    async def system(sim: Simulation) -> object:
        await sim.runtime.spawn(Mutual, name="a")
        b = await sim.runtime.spawn(Mutual, name="b")
        return await b.ask(Ask("a"))

    result = run_simulation(system, seed=1)
    assert isinstance(result.error, trouper.HandlerError)
    assert isinstance(result.error.__cause__, trouper.HandlerError)
    cycle = result.error.__cause__.__cause__
    assert isinstance(cycle, AskCycle)
    assert cycle.cycle == ("/a", "/b", "/a")


def test_explore_reports_the_first_breaking_seed_and_its_replay() -> None:
    """``explore`` stops at the first seed whose run breaks the check."""

    def never_lost(result: trouper.testing.SimulationResult[None]) -> bool:
        return not result.trace.filter("fault")

    plan = FaultPlan(Drop(("/relay*", "/log"), probability=0.05))
    report = explore(race, seeds=range(50), check=never_lost, faults=plan)
    assert report.failed
    assert report.failure is not None
    seed = report.failure.seed
    assert report.runs == seed + 1
    assert report.replay == (
        f"run_simulation({race.__module__}.race, seed={seed}, faults={plan!r})"
    )
    assert str(report).startswith(f"explored {seed + 1} seeds: seed {seed} breaks the check")
    assert run_simulation(race, seed=seed, faults=plan).trace == report.failure.trace


def test_explore_counts_errors_and_false_checks_as_breaks() -> None:
    """A system that raises, or a check that returns False, breaks the run."""

    async def boom(sim: Simulation) -> None:
        raise ValueError("bad invariant")

    report = explore(boom, seeds=[4, 5])
    assert (report.runs, report.failure and report.failure.seed) == (1, 4)
    assert isinstance(report.problem, ValueError)
    quiet = explore(race, seeds=range(3), check=lambda result: False)
    assert str(quiet.problem) == "check <lambda> returned False"
    assert str(explore(race, seeds=range(3))) == "explored 3 seeds: every run passed the check"


async def test_simulate_inside_a_test() -> None:
    """``simulate`` runs a traced, fault-injected system inside the test's own Trio run."""
    async with simulate(seed=9, faults=FaultPlan(Crash("/log", at_message=1))) as sim:
        log = await sim.runtime.spawn(Log, name="log")
        with pytest.raises(trouper.HandlerError):
            await log.ask(Note("first"))
        assert await log.ask(Note("second")) == 1
    assert [e.kind for e in sim.trace.filter(["fault", "failed", "restarted"])] == [
        "fault",
        "failed",
        "restarted",
    ]


@pytest.mark.real_clock
async def test_simulate_needs_virtual_time() -> None:
    """Without an autojumping MockClock, ``simulate`` refuses to start."""
    with pytest.raises(RuntimeError, match=r"^simulate\(\) needs virtual time"):
        async with simulate(seed=1):
            pass


def test_trace_filters_renders_and_compares() -> None:
    """Traces filter by kind, actor and text; render readably; compare by content."""
    events = [
        TraceEvent(0.0, "send", "<main>", "tell Note(text='a') -> /log"),
        TraceEvent(0.5, "deliver", "/log", "Note(text='a')"),
    ]
    trace = Trace(events)
    assert trace.filter("deliver") == Trace(events[1:])
    assert trace.filter(actor="<main>")[0] == events[0]
    assert trace.filter(contains="text='a'") == trace
    assert str(trace).splitlines()[1] == "    0.5000  deliver     /log  Note(text='a')"
    assert trace.render(limit=1).splitlines()[0] == "... 1 earlier events"
    assert trace.first_difference(Trace(events[:1])) == 1
    with pytest.raises(ValueError, match=r"^unknown trace kind 'sent'"):
        trace.filter("sent")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Crash("/a"), r"^a Crash needs at_message or a probability > 0$"),
        (lambda: Crash("/a", at_message=0), r"^at_message must be an int >= 1, got 0$"),
        (lambda: Drop(("/a",), 0.5), r"^between must be a \(sender, receiver\) pair"),  # type: ignore[arg-type]
        (lambda: Drop(("/a", "/b"), 1.5), r"^probability must be between 0 and 1, got 1.5$"),
        (lambda: Delay(("/a", "/b"), 0.5, -1), r"^delay must be seconds >= 0"),
        (lambda: Uniform(2, 1), r"^Uniform needs 0 <= low <= high"),
        (lambda: FaultPlan("crash"), r"^a FaultPlan takes fault rules, got 'crash'$"),  # type: ignore[arg-type]
        (lambda: run_simulation(race, seed="1"), r"^seed must be an int, got '1'$"),  # type: ignore[arg-type]
    ],
)
def test_bad_fault_plans_are_refused(build: object, message: str) -> None:
    """Rules and runs check their arguments and say what is wrong."""
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]
