"""Seeded simulation: a whole system on virtual time, faults on purpose, the same run again.

Theory of operation
-------------------
A run is a function of its seed because the seed fixes everything the
runtime may do in more than one order:

1. Time is Trio's ``MockClock(autojump_threshold=0)``: no real time leaks in,
   timers and deadlines fire in virtual time.
2. Scheduling: each turn, Trio's run loop runs the batch of ready tasks in an
   order drawn from a module-level ``Random``. In its deterministic mode (the
   one Trio's own Hypothesis integration switches on) it first sorts the
   batch by task creation order, then shuffles it with that ``Random``,
   which a simulation seeds. So which ready actor runs first is the seed's
   choice, not an accident of memory addresses.
3. Randomness: fault decisions, the runtime's backoff jitter and
   ``sim.random`` come from generators seeded from the seed, drawn in the
   order events happen; the global ``random`` module is seeded too (and
   restored after the run) for code that uses it.

An instrument (``trouper.runtime.lowlevel.Instrument``) installed on the
simulated runtime does the faults and the tracing: ``intercept_send`` drops,
delays and duplicates sends; ``handler_started`` pauses, counts and crashes
deliveries; the other hooks trace handler ends, timers, lifecycle events and
dead letters. The sender of a message is the actor whose task (or timer) runs
(``lowlevel.current_cell``), or whose task is the nearest ancestor of the task
that runs (one its handler started in a nursery), else ``<main>``.

A watchdog task detects deadlocks: when every other task is blocked and no
deadline is pending, nothing can ever happen again; if the system has not
finished, the run fails with who waits on whom. When a deadline is pending,
the watchdog sleeps until it, so the clock can jump there. Trio wakes every
task in ``wait_all_tasks_blocked`` at once, so a system waiting for
quiescence itself wakes with the watchdog; the watchdog therefore looks
twice, and finds a deadlock only if no other task took a step in between
(a Trio instrument counts them).

So a system that waits for ever beside a timer that keeps ticking (``every``,
a ``send_later`` that sets the next) never looks deadlocked. ``max_time``
bounds a run in virtual seconds (one hour unless told otherwise; ``None``:
no bound): the watchdog sleeps no later than that instant, and when it wakes
there with a deadline still pending, the run fails with ``MaxTimeExceeded``,
naming the seed and the waits still going on. A task that loops without
ever waiting holds virtual time (it passes only when every task waits) and
the watchdog with it, so the Trio instrument that counts steps also ends a
bounded run whose tasks take ``spin_steps`` steps at one instant (``SPIN_STEPS``
unless told otherwise), and cuts the runtime's shutdown short if an actor
spins on through it.

Who waits on whom comes from the send hooks: an ask (or a tell that finds
the mailbox full) notes a wait, and its handler's end closes it. An ask can
also end with no handler ending: its asker gives up (a deadline), its actor
stops with the ask still queued, the request was dropped on purpose. So a
wait also notes the engine's coroutine frame that waits (``Cell.ask``,
``Cell.send``) and the task it runs in, and the report keeps only the waits
whose frame is still in its task's await stack: the waits still going on.

What can still differ between runs of the same seed: anything outside the
simulation (real I/O, threads, reading the wall clock), iteration over sets
of objects hashed by identity in user code, and reprs that show memory
addresses (they would only differ in the trace text).
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import random
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from types import FrameType, FunctionType
from typing import Generic, Protocol, TypeVar

import attrs
import trio
import trio.testing
from trio.lowlevel import Task, current_task

from trouper._groups import single_leaf
from trouper._text import describe
from trouper.actors import ActorRef
from trouper.durable import SqliteStore, set_wall_clock
from trouper.runtime import ActorEvent, DeadLetter, EventKind, Runtime
from trouper.runtime.lowlevel import (
    Cell,
    HandlerOutcome,
    Instrument,
    Instruments,
    Interception,
    SendKind,
    SharingEndpoint,
    current_cell,
    running,
)
from trouper.testing._faults import MAIN, FaultPlan, InjectedCrash, literal
from trouper.testing._trace import Trace, TraceEvent, TraceKind

__all__ = [
    "Deadlock",
    "Exploration",
    "MaxTimeExceeded",
    "Simulation",
    "SimulationResult",
    "explore",
    "run_simulation",
    "simulate",
]

T = TypeVar("T")
S = TypeVar("S", bound="Simulation")
System = Callable[["Simulation"], Awaitable[T]]

DEFAULT_MAX_TIME = 3600.0
"""Virtual seconds a simulation may run when no ``max_time`` is given (one hour)."""

SPIN_STEPS = 200_000
"""Task steps a bounded run may take at one virtual instant before it fails as spinning.

The default of ``spin_steps``: far more than a simulated system takes at one instant
(each message costs a few), and reached in seconds of real time by one that never
lets time pass."""

WALL_CLOCK_EPOCH = 1_767_225_600.0
"""The wall-clock seconds at the start of a run that owns its Trio run: 2026-01-01T00:00:00Z.

What a durable store records (a dead letter's ``dead_at``, a delayed message's
due time) is then the same for the same seed (``trouper.durable.set_wall_clock``)."""

_SAMPLE = 1024
"""The clock is read once per this many steps (a power of 2) to see whether time passed."""


class Deadlock(AssertionError):
    """A simulated system can never make progress again, and has not finished.

    Raised (as the run's error) when every task waits, no timer or deadline
    is pending, and the system's main function has not returned. ``waits``
    says who waits on whom.
    """

    def __init__(self, time: float, waits: tuple[str, ...]) -> None:
        super().__init__(time, waits)
        self.time = time
        self.waits = waits

    def __str__(self) -> str:
        lines = [f"deadlock at t={self.time:.4f}: every task waits and no timer is pending"]
        lines.extend(
            f"  {wait}" for wait in self.waits or ("the system waits, but not on an actor",)
        )
        return "\n".join(lines)


class MaxTimeExceeded(AssertionError):
    """A simulated system has not finished after ``max_time`` virtual seconds, or never can.

    Raised (as the run's error) when the run reaches its ``max_time`` with a
    timer or deadline still pending: such a system never looks deadlocked
    (something may still happen), but it has run longer than it was allowed
    to, most often because it waits for ever beside a periodic timer. Also
    raised when its tasks take ``spin_steps`` steps (200 000 unless told
    otherwise) at one virtual instant (``steps`` is then set to that bound):
    virtual time only passes when every task waits,
    so a loop that never waits would keep the run from ever reaching
    ``max_time``. ``waits`` says who waits on whom at that instant.
    """

    def __init__(
        self,
        seed: int,
        time: float,
        max_time: float,
        waits: tuple[str, ...],
        steps: int | None = None,
    ) -> None:
        super().__init__(seed, time, max_time, waits, steps)
        self.seed = seed
        self.time = time
        self.max_time = max_time
        self.waits = waits
        self.steps = steps
        """The task steps taken at ``time`` when the run spun there; ``None`` if it did not."""

    def __str__(self) -> str:
        if self.steps is None:
            first = (
                f"seed {self.seed} has not finished at t={self.time:.4f} "
                f"(max_time={self.max_time!r}): it never deadlocked, but a timer is always "
                "pending; pass a larger max_time (or None) if it needs longer"
            )
        else:
            first = (
                f"seed {self.seed} spins at t={self.time:.4f}: {self.steps} task steps without "
                f"virtual time passing, so it can never reach max_time={self.max_time!r} (a "
                "loop that never waits, such as a retry of an ask that fails at once; "
                "max_time=None lifts the bound)"
            )
        return "\n".join([first, *(f"  {wait}" for wait in self.waits)])


def _check_max_time(max_time: float | None) -> float | None:
    """Return ``max_time`` if it is ``None`` or a finite number > 0.

    Raises:
        ValueError: it is not.
    """
    if max_time is None or (
        isinstance(max_time, int | float)
        and not isinstance(max_time, bool)
        and 0 < max_time < math.inf
    ):
        return max_time
    raise ValueError(f"max_time must be a finite number > 0 or None, got {max_time!r}")


def _check_spin_steps(spin_steps: object) -> int:
    """Return ``spin_steps`` if it is an int > 0.

    Raises:
        ValueError: it is not.
    """
    if isinstance(spin_steps, int) and not isinstance(spin_steps, bool) and spin_steps > 0:
        return spin_steps
    raise ValueError(f"spin_steps must be an int > 0, got {spin_steps!r}")


def _check_system(system: object) -> None:
    """Refuse a ``system`` that cannot be called (so that no run reports it as its failure).

    Raises:
        TypeError: it is not callable; a coroutine (a call of the system) is told so.
    """
    if callable(system):
        return
    if inspect.iscoroutine(system):
        system.close()  # it will never be awaited: no warning on top of the error
        raise TypeError(
            "system must be an async function taking the simulation, got a coroutine "
            f"({system.__qualname__}(...)): pass the function itself, not a call of it"
        )
    raise TypeError(f"system must be an async function taking the simulation, got {system!r}")


def _iter_seeds(seeds: object) -> Iterator[int]:
    """Iterate ``seeds`` (each is checked as its turn comes).

    Raises:
        TypeError: ``seeds`` is not iterable (``seeds=100`` for ``range(100)``).
    """
    try:
        return iter(seeds)  # type: ignore[call-overload,no-any-return]
    except TypeError:
        raise TypeError(
            f"seeds must be an iterable of int seeds, such as range(100), got {seeds!r}"
        ) from None


def _check_check(check: object) -> None:
    """Refuse a ``check`` that is neither ``None`` nor callable, before any run.

    Raises:
        TypeError: it is not.
    """
    if check is not None and not callable(check):
        raise TypeError(f"check must be a function of the result or None, got {check!r}")


def _check_runtime_options(
    options: Mapping[str, object], reserved: tuple[str, ...] = ("node", "seed")
) -> None:
    """Refuse runtime options the simulated runtime would refuse, before any run.

    Checked by building a runtime with them (never run), so the check is
    ``Runtime``'s own; ``reserved`` are the options the simulation sets itself.
    A bad option is the caller's mistake, not the failure of a run.

    Raises:
        ValueError: an option is reserved, ``Runtime`` refuses its value, or the
            ``store`` runs SQLite in threads.
        TypeError: ``Runtime`` takes no such option, or refuses its type.
    """
    for key in reserved:
        if key in options:
            raise ValueError(
                f"runtime option {key} is the simulation's own (it sets {', '.join(reserved)}), "
                f"got {options[key]!r}"
            )
    store = options.get("store")
    if isinstance(store, SqliteStore) and store.threads:
        # Every task waiting for its thread, the watchdog would see a deadlock.
        raise ValueError(
            "a simulation's store must run SQLite on Trio's thread: "
            f"SqliteStore(path, threads=False), got {store!r} (threads=True)"
        )
    Runtime(**options)  # type: ignore[arg-type]


@attrs.define(eq=False)
class _Wait:
    """A wait noted for deadlock reports."""

    who: str
    # The path of the actor that waits, or ``<main>``.
    what: str
    # What it waits for, as the report says it.
    since: float
    # Virtual seconds since the start when it began.
    task: Task
    # The task that waits.
    frame: FrameType | None
    # The coroutine frame that waits (``Cell.ask``, ``Cell.send``): the wait is going on
    # while this frame is in ``task``'s await stack. ``None``: not known, it goes on
    # until ``wait_ends``.

    def going_on(self) -> bool:
        """Whether the task still waits here (its frame has not returned or raised)."""
        frame = self.frame
        return frame is None or any(f is frame for f, _ in self.task.iter_await_frames())


_RELAYS = frozenset(
    value.__code__ for value in vars(Instruments).values() if isinstance(value, FunctionType)
)
"""The code of the engine's calls into instruments, skipped on the way to the waiting frame."""


def _waiting_frame() -> FrameType | None:
    """The coroutine frame that called the hook noting a wait (``Cell.ask``), or ``None``.

    ``None`` when the hook was called from synchronous code (``Cell.ask_soon``: no
    task waits for such an ask).
    """
    frame: FrameType | None = sys._getframe(1)
    here = sys._getframe().f_globals
    while frame is not None and (frame.f_globals is here or frame.f_code in _RELAYS):
        frame = frame.f_back
    if frame is None or not frame.f_code.co_flags & inspect.CO_COROUTINE:
        return None
    return frame


class _Steps(trio.abc.Instrument):
    """Counts the steps of every task but the watchdog's, and sees a run spin (Trio instrument).

    Virtual time passes only when every task waits, so a task that loops without
    ever waiting holds the clock, and the watchdog (which wakes when every task
    waits) with it. Every ``_SAMPLE`` steps (fewer if the bound is smaller) the
    clock is read; ``sim.spin_steps`` steps at one instant end the run
    (``Simulation._spun``). Counts are a function of the seed, so the run ends
    at the same step each time. It also sees each task end, which ends the wait
    of a tell or delayed ask the task gave up (no hook reports that), and each
    task an actor's task starts, which notes the actor's task for ``sender``.
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        # The simulation told when its run spins.
        self.bounded = sim.max_time is not None
        # Whether spinning ends the run (it does unless max_time is None).
        self.limit = sim.spin_steps
        # Steps at one instant that end the run.
        self.mask = min(_SAMPLE, 1 << (self.limit.bit_length() - 1)) - 1
        # The clock is read when ``count & mask`` is 0: a power of 2 minus 1, the
        # sample no longer than the bound, so a small bound is not overshot by far.
        self.watchdog: Task | None = None
        # The watchdog's task, whose own steps are not counted.
        self.count = 0
        # Steps taken by the other tasks so far.
        self.instant = -math.inf
        # The virtual time at the last sample.
        self.since = 0
        # The step count when the clock was first seen at ``instant``.

    def before_task_step(self, task: Task) -> None:
        if task is self.watchdog:
            return
        self.count += 1
        if self.count & self.mask or not self.bounded:
            return
        now = trio.current_time()
        if now != self.instant:
            self.instant, self.since = now, self.count
        elif self.count - self.since >= self.limit:
            self.since = self.count  # if it spins on, the next bound counts from here
            self.sim._spun()

    def task_spawned(self, task: Task) -> None:
        # An actor's task that starts one notes itself, so that the task it starts sends as
        # the actor: in ``on_start`` no message has noted it yet (``Simulation._note_task``).
        try:
            cell = current_cell()
        except RuntimeError:  # spawned from outside any task (a system task, at start-up)
            return
        if cell is not None:
            self.sim._note_task(cell)

    def task_exited(self, task: Task) -> None:
        self.sim._task_ended(task)


class Simulation:
    """A running simulation: its runtime, its trace so far, its seeded random source."""

    def __init__(
        self,
        seed: int,
        faults: FaultPlan | None,
        *,
        max_time: float | None = DEFAULT_MAX_TIME,
        spin_steps: int = SPIN_STEPS,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        if faults is not None and not isinstance(faults, FaultPlan):
            raise ValueError(f"faults must be a FaultPlan, got {faults!r}")
        self.seed = seed
        """The seed of this run."""
        self.faults = faults if faults is not None else FaultPlan()
        """The faults this run injects."""
        self.max_time = _check_max_time(max_time)
        """Virtual seconds the run may take before it fails (``None``: no bound)."""
        self.spin_steps = _check_spin_steps(spin_steps)
        """Task steps a bounded run may take at one virtual instant before it fails."""
        self.random = random.Random(f"trouper.sim/{seed}/system")
        """A random source for the system's own choices (seeded: replays with the run)."""
        self._fault_rng = random.Random(f"trouper.sim/{seed}/faults")
        self._events: list[TraceEvent] = []
        self._start = 0.0
        self._runtime: Runtime | None = None
        self._body: trio.CancelScope | None = None
        self._counts: dict[str, int] = {}
        # Messages delivered to each actor path so far: an actor restarted, spawned again at
        # its path or recovered by a durable simulation's next incarnation goes on counting,
        # so a ``Crash`` at its Nth message fires once (and no ended cell is kept alive).
        # The cell each actor task runs (noted as it handles a message): a task a handler
        # starts in a nursery of its own sends as the actor whose task is its nearest ancestor.
        self._cells: weakref.WeakKeyDictionary[Task, Cell] = weakref.WeakKeyDictionary()
        self._waits: dict[int, _Wait] = {}
        self._wait_ids = iter(range(1, 1 << 62))
        # Past this many waits, noting one (``_note_wait``) forgets those no longer going on
        # (whose end no hook reported), so that they never pile up; doubles with the live ones.
        self._prune_at = 64
        self._room_waits: dict[Task, int] = {}
        self._late_asks: dict[Task, int] = {}
        # The wait of the ask each task makes while a ``Delay`` holds its request back:
        # noted as the ask is made, carried on by its ``message_sent`` once it is sent.
        self._stopped: Deadlock | MaxTimeExceeded | None = None
        # What the watchdog ended the run with: a deadlock, or the run's max_time reached.
        self._steps = _Steps(self)
        # Counts task steps while the run lasts, its shutdown included (``_bounded``).
        self._outer: trio.CancelScope | None = None
        # Around the runtime and its shutdown: cancelled when a run spins on once stopped.
        self._killed = False
        # Whether the running runtime was killed (a durable simulation's crash), until its
        # tasks have all ended: its cancellation is on its way, so none of its handlers starts
        # again, and nothing it does is traced, counted or draws a fault.

    @property
    def runtime(self) -> Runtime:
        """The simulated runtime: spawn the system's actors here."""
        if self._runtime is None:
            raise RuntimeError("the simulation is not running")
        return self._runtime

    @property
    def deadlock(self) -> Deadlock | None:
        """The deadlock that ended the run, if one did."""
        return self._stopped if isinstance(self._stopped, Deadlock) else None

    @property
    def trace(self) -> Trace:
        """Everything recorded so far."""
        return Trace(self._events)

    def now(self) -> float:
        """Virtual seconds since the simulation started."""
        return trio.current_time() - self._start

    # --- recording -------------------------------------------------------------

    def record(self, kind: TraceKind | str, actor: str, detail: str) -> None:
        """Add an event to the trace (also for the system's own notes: kind ``fault`` etc.).

        Nothing is recorded of a runtime killed by a durable simulation's crash, from
        the kill until its next incarnation: a killed process does nothing more.

        Raises:
            ValueError: ``kind`` is not a ``TraceKind``.
        """
        if self._killed:
            TraceKind(kind)  # refused all the same if it is no kind
            return
        self._events.append(TraceEvent(round(self.now(), 9), TraceKind(kind), actor, detail))

    def _on_event(self, event: ActorEvent) -> None:
        reason = "" if event.reason is None else describe(event.reason)
        self.record(event.kind.value, event.address.path, reason)

    def sender(self) -> str:
        """The path of the actor whose task (or timer) is running now, or ``<main>``.

        A task started by an actor's handler (in a nursery of its own) runs for that
        actor: the nearest actor task among its ancestors is the sender.
        """
        cell = current_cell()
        if cell is None:
            task: Task | None = current_task()
            cells = self._cells
            while cell is None and task is not None:
                cell = cells.get(task)
                if cell is not None and cell.task is not task:
                    cell = None  # a task the actor ran before: it has ended since
                nursery = task.parent_nursery
                task = None if nursery is None else nursery.parent_task
        return MAIN if cell is None else cell.address.path

    def _note_task(self, cell: Cell) -> None:
        """Note the task ``cell`` runs in (as it handles a message), for ``sender``."""
        if cell.task is not None:
            self._cells[cell.task] = cell

    def count(self, cell: Cell) -> int:
        """Count one more message delivered to ``cell``'s path; return the count.

        Counted per path, from 1, across restarts, spawns at the same path and incarnations.
        """
        path = cell.address.path
        count = self._counts.get(path, 0) + 1
        self._counts[path] = count
        return count

    # --- waits, for deadlock reports ----------------------------------------------

    def wait_begins(self, what: str) -> int:
        """Note that the current task waits on something (an ask, a full mailbox).

        The wait goes on until ``wait_ends(token)``, or until the coroutine
        that called the hook noting it (``Cell.ask``, ``Cell.send``; or the
        caller's own, called from a coroutine) returns or raises, whichever
        comes first: an ask its asker gave up, or that its actor's stop
        answered, is no longer a wait.
        """
        return self._note_wait(what, _waiting_frame())

    def _note_wait(self, what: str, frame: FrameType | None) -> int:
        """Note a wait of the current task, going on while ``frame`` runs (None: until it ends)."""
        waits = self._waits
        if len(waits) >= self._prune_at:
            for token, wait in tuple(waits.items()):
                if not wait.going_on():
                    del waits[token]
            self._prune_at = max(64, 2 * len(waits))
        token = next(self._wait_ids)
        waits[token] = _Wait(self.sender(), what, self.now(), current_task(), frame)
        return token

    def _ask_wait_begins(self, what: str) -> int | None:
        """Note the wait of the ask being made, as ``wait_begins``; ``None`` for a callback ask.

        No task waits for the answer to a callback ask (``Cell.ask_soon``): its
        hooks are called from synchronous code, and nothing would end its wait
        when it ends without a handler (abandoned, dropped, answered by a stop).
        """
        frame = _waiting_frame()
        return None if frame is None else self._note_wait(what, frame)

    def late_ask_begins(self, what: str) -> None:
        """Note that the current task's ask waits while a ``Delay`` holds it back.

        Its ``ask_begins``, once the delay is over, goes on with this wait.
        A callback ask (no task waits for it) notes nothing.
        """
        token = self._ask_wait_begins(what)
        if token is not None:
            self._late_asks[current_task()] = token

    def ask_begins(self, what: str) -> int | None:
        """Note that the current task's ask, being sent, waits for its answer; return the token.

        An ask a ``Delay`` held back goes on with the wait ``late_ask_begins`` noted
        when it was made. A callback ask notes nothing (``None``).
        """
        late = self._late_asks.pop(current_task(), None)
        if late is not None:
            wait = self._waits.get(late)
            if wait is not None and wait.frame is _waiting_frame():
                return late  # this very ask (its frame runs), sent after its delay
            self.wait_ends(late)  # an earlier one, given up during its delay
        return self._ask_wait_begins(what)

    def wait_ends(self, token: int) -> None:
        """The wait noted as ``token`` is over."""
        self._waits.pop(token, None)

    def _task_ended(self, task: Task) -> None:
        """``task`` ended: a room wait or late ask still noted for it was given up (cancelled)."""
        for waits in (self._room_waits, self._late_asks):
            token = waits.pop(task, None)
            if token is not None:
                self.wait_ends(token)

    async def _watchdog(self) -> None:
        self._steps.watchdog = current_task()
        await self._watch(self._steps)

    @contextmanager
    def _bounded(self) -> Iterator[trio.CancelScope]:
        """Count task steps while the block runs; cancel the scope it gives if the run spins on.

        The block holds the runtime and its shutdown, where an actor that never
        waits would spin too.
        """
        trio.lowlevel.add_instrument(self._steps)
        try:
            with trio.CancelScope() as self._outer:
                yield self._outer
        finally:
            self._outer = None
            trio.lowlevel.remove_instrument(self._steps)

    def _spun(self) -> None:
        """The run took ``spin_steps`` steps at one instant: end it; cut it short if it goes on."""
        if self._stopped is None:
            assert self.max_time is not None
            waits = self._waits_going_on()
            error = MaxTimeExceeded(self.seed, self.now(), self.max_time, waits, self.spin_steps)
            # Cancels the system (its actors stop next, if they can), or, once it has
            # ended, cuts its shutdown short.
            self._stop(error)
        elif self._outer is not None:
            self._outer.cancel()  # it spins past its stop (an actor that never waits)

    def _waits_going_on(self) -> tuple[str, ...]:
        return tuple(
            f"{w.who} waits for {w.what} (since t={w.since:.4f})"
            for w in self._waits.values()
            if w.going_on()
        ) + tuple(
            f"{sender}'s late tell waits for room in the mailbox of {path} "
            f"(since t={due - self._start:.4f})"
            for sender, path, due in self._late_room_waits()
        )

    def _late_room_waits(self) -> Iterator[tuple[str, str, float]]:
        """Each tell a ``Delay`` held back whose delivery waits for room: sender, target, due.

        The engine lists each actor's late deliveries (``Cell.late_deliveries``),
        in told order; the delay this simulation's instrument chose says who told it.
        """
        if self._runtime is None:
            return
        guardians = [self._runtime.root]
        while guardians:
            for cell in guardians.pop(0).children:
                for late in cell.late_deliveries:
                    fate = late.fate
                    if late.waiting_for_room and isinstance(fate, _DelayedTell):
                        yield fate.sender, cell.address.path, late.due
                guardian = cell.children_guardian
                if guardian is not None:
                    guardians.append(guardian)

    def _stop(self, why: Deadlock | MaxTimeExceeded) -> None:
        """End the run with ``why`` (the watchdog's verdict): trace it, cancel the system.

        Once the system has ended (the runtime's shutdown runs), or at a second
        verdict (the system did not end when cancelled, or its actors' shutdown
        can never end), the shutdown is cut short: nothing else would end it.
        """
        if self._stopped is None:
            self._stopped = why
            self.record("fault", MAIN, str(why).splitlines()[0])
            if self._body is not None:
                self._body.cancel()
                return
        if self._outer is not None:
            self._outer.cancel()

    async def _watch(self, steps: _Steps) -> None:
        # Watches the system and then the runtime's shutdown, until cancelled.
        # The step count when the last wake found no deadline pending (None: one was).
        still: int | None = None
        limit = math.inf if self.max_time is None else self._start + self.max_time
        while True:
            await trio.testing.wait_all_tasks_blocked()
            until_next = trio.lowlevel.current_statistics().seconds_to_next_deadline
            if until_next == math.inf:
                if still != steps.count:
                    # Tasks of the system waiting for quiescence too woke with this one:
                    # only a second look with no step of theirs between says nothing runs.
                    still = steps.count
                    continue
                self._stop(Deadlock(self.now(), self._waits_going_on()))
                still = None
                continue
            now = trio.current_time()
            if now >= limit and self._stopped is None:
                assert self.max_time is not None
                waits = self._waits_going_on()
                self._stop(MaxTimeExceeded(self.seed, self.now(), self.max_time, waits))
                still = None
                continue
            # Let the clock jump to the next deadline, or to the limit (a task in
            # wait_all_tasks_blocked would keep it from jumping). Once the run is
            # stopped, its shutdown has its own deadlines: only a deadlock cuts it.
            still = None
            await trio.sleep_until(
                min(now + until_next, limit if self._stopped is None else math.inf)
            )

    # --- lifecycle ------------------------------------------------------------------

    @asynccontextmanager
    async def _watched(self, runtime: Runtime) -> AsyncIterator[trio.CancelScope]:
        """Run ``runtime`` for the block, faults injected, watched until its shutdown has ended.

        Gives the scope that kills the run (cancelled when it spins, or by a
        crash). The block catches its own error (it would go up in a nursery's
        group); the runtime's failure goes up as it is, in its place. The
        watchdog watches the runtime's shutdown too: one that can never end
        (``shutdown_timeout=math.inf``) would otherwise hang the run.
        """
        runtime.instruments.add(_Faults(self))
        runtime.events.listen(self._on_event, kinds=[EventKind.GAVE_UP])
        failure: Exception | None = None
        with self._bounded() as outer, _unwrapped():
            async with trio.open_nursery() as watching:
                try:
                    async with running(runtime):
                        watching.start_soon(self._watchdog)  # once the runtime has started
                        yield outer
                except Exception as error:  # raised below, not in the nursery's group
                    failure = error
                finally:
                    watching.cancel_scope.cancel()
        if failure is not None:
            raise failure

    @asynccontextmanager
    async def _running(self, options: Mapping[str, object]) -> AsyncIterator[Simulation]:
        self._start = trio.current_time()
        runtime = Runtime(node="sim", seed=self.seed, **options)  # type: ignore[arg-type]
        self._runtime = runtime
        block_error: Exception | None = None
        async with self._watched(runtime):  # the runtime's failure outranks the block's
            try:
                with trio.CancelScope() as self._body:
                    yield self
            except Exception as error:
                block_error = error
            finally:
                self._body = None
        if block_error is not None:
            raise block_error
        if self._stopped is not None:
            raise self._stopped


@contextmanager
def _unwrapped() -> Iterator[None]:
    """Raise the one exception of a group the block's nursery made, as it is.

    What is no ``Exception`` (``pytest.fail``, ``pytest.skip``, ``SystemExit``,
    ``KeyboardInterrupt``, a cancellation) passes through the watchdog's nursery,
    which would put it in a group of one: ``running`` (``open_runtime``) unwraps
    it, and so does the simulation, so that ``pytest.raises`` and pytest see it.
    A group of several goes up as it is.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        error = single_leaf(group)
        if error is None:
            raise
        raise error from None


def _simulation_of(runtime: Runtime) -> Simulation | None:
    """The simulation whose runtime ``runtime`` is, if it is one (its instrument says)."""
    for instrument in runtime.instruments:
        if isinstance(instrument, _Faults):
            return instrument.sim
    return None


def _may_wait_for_room(actor: Cell) -> bool:
    """Whether a tell to ``actor``'s ref may wait for room: a mailbox it goes into is full.

    A balancing pool's sends are reported with the pool's cell as the target, but
    its members' messages go into the shared mailbox its endpoint holds (only
    ``Resize`` and the like into the pool's own). Either being full notes a wait;
    one noted for a tell that then gets in at once ends as it does
    (``message_delivered``), so a false alarm never reaches a report.
    """
    endpoint = actor.ref.endpoint
    return actor.mailbox.full or (
        isinstance(endpoint, SharingEndpoint) and endpoint.shared_mailbox_full()
    )


@attrs.frozen
class _DelayedTell(Interception):
    """The delay of a tell, with who told it: deadlock reports name the sender of a late tell."""

    sender: str = MAIN
    """The path of the actor that told it, or ``<main>``."""


async def _killed_handler() -> None:
    """What a handler of a killed runtime does before it starts: wait to be cancelled."""
    await trio.sleep_forever()


class _Faults(Instrument):
    """The simulation's instrument: it injects the fault plan and records the trace."""

    __slots__ = ("sim",)

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        # The simulation whose plan, random source and trace this instrument uses.

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        """Trace the send; drop, delay or duplicate it as the plan draws."""
        sim = self.sim
        if sim._killed:
            return None  # a send of a killed runtime: nothing of it is traced or drawn
        sender, path = sim.sender(), actor.address.path
        sim.record(TraceKind.SEND, sender, f"{kind.value} {message!r} -> {path}")
        route = sim.faults.route(sender, path, sim._fault_rng)
        if kind is SendKind.TELL and not (route.drop or route.delay) and _may_wait_for_room(actor):
            # Queued now (twice, if doubled), it waits for room as any tell does: a
            # deadlock report names it. Its end is ``message_delivered``, or (a doubled
            # tell, whose copies call no hook) the return of the send's frame.
            sim._room_waits[current_task()] = sim.wait_begins(f"room in the mailbox of {path}")
        if not (route.drop or route.delay or route.duplicate):
            return None
        # Every fault reads "<fault> [ask ]<message> -> <receiver>", a tell's and an ask's alike.
        sent = f"{'ask ' if kind is SendKind.ASK else ''}{message!r} -> {path}"
        if route.drop:
            sim.record(TraceKind.FAULT, sender, f"drop {sent}")
            if kind is SendKind.ASK:
                sim._ask_wait_begins(f"an answer from {path} to {message!r}")
            return Interception(drop=True)
        if route.delay:
            sim.record(TraceKind.FAULT, sender, f"delay {route.delay:.4f}s {sent}")
            if kind is SendKind.ASK:
                # The asker waits from now, not from the request's late arrival.
                sim.late_ask_begins(f"an answer from {path} to {message!r}")
        if route.duplicate:
            sim.record(TraceKind.FAULT, sender, f"duplicate {sent}")
        if route.delay and kind is not SendKind.ASK:
            # Its late delivery may wait for room: the engine lists it with this fate.
            return _DelayedTell(delay=route.delay, duplicate=route.duplicate, sender=sender)
        return Interception(delay=route.delay, duplicate=route.duplicate)

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        """An ask carries the token of its asker's wait, ended when it is answered."""
        if kind is not SendKind.ASK:
            return None
        return self.sim.ask_begins(f"an answer from {actor.address.path} to {message!r}")

    def message_delivered(self, actor: Cell, message: object) -> None:
        """A tell that waited for room got in."""
        token = self.sim._room_waits.pop(current_task(), None)
        if token is not None:
            self.sim.wait_ends(token)

    def handler_started(
        self, actor: Cell, message: object, context: object
    ) -> Awaitable[None] | None:
        """Pause, count and trace the delivery; crash it as the plan says.

        A handler of a killed runtime never starts: it waits for the cancellation
        the kill has on its way (between the kill and it, the runtime's tasks run).
        """
        sim = self.sim
        if sim._killed:
            return _killed_handler()
        until = sim.faults.pause_until(actor.address.path, sim.now())
        if until is not None:
            sim.record(TraceKind.FAULT, actor.address.path, f"pause until t={until:.4f}")
            return self._paused(actor, message, sim._start + until)
        self._deliver(actor, message)
        return None

    async def _paused(self, actor: Cell, message: object, until: float) -> None:
        await trio.sleep_until(until)
        if self.sim._killed:
            await trio.sleep_forever()  # its runtime was killed as the pause ended
        self._deliver(actor, message)

    def _deliver(self, actor: Cell, message: object) -> None:
        sim = self.sim
        sim._note_task(actor)  # its handler's own tasks send as the actor
        path = actor.address.path
        count = sim.count(actor)
        sim.record(TraceKind.DELIVER, path, repr(message))
        if sim.faults.crash(path, count, sim._fault_rng) is not None:
            sim.record(TraceKind.FAULT, path, f"crash at message {count}")
            raise InjectedCrash(f"injected crash of {path} at message {count}")

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        """Trace a handler that returned; an ask's wait is over either way."""
        if isinstance(context, int):
            self.sim.wait_ends(context)
        if outcome.ok:
            self.sim.record(TraceKind.HANDLED, actor.address.path, type(message).__name__)

    def timer_fired(self, actor: Cell, target: ActorRef[object], message: object) -> None:
        """Trace a timer."""
        self.sim.record(
            TraceKind.TIMER, actor.address.path, f"{message!r} -> {target.address.path}"
        )

    def actor_started(self, actor: Cell) -> None:
        """Trace a start."""
        self.sim.record(TraceKind.STARTED, actor.address.path, "")

    def actor_failed(self, actor: Cell, error: BaseException) -> None:
        """Trace a failure."""
        self.sim.record(TraceKind.FAILED, actor.address.path, describe(error))

    def actor_restarted(self, actor: Cell, error: BaseException | None) -> None:
        """Trace a restart decision."""
        self.sim.record(
            TraceKind.RESTARTED, actor.address.path, "" if error is None else describe(error)
        )

    def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
        """Trace a stop for good."""
        self.sim.record(
            TraceKind.STOPPED, actor.address.path, "" if reason is None else describe(reason)
        )

    def dead_letter(self, letter: DeadLetter) -> None:
        """Trace a dead letter."""
        error = "" if letter.error is None else f" {describe(letter.error)}"
        self.sim.record(
            TraceKind.DEAD_LETTER,
            letter.recipient.path,
            f"{letter.reason}{error}: {letter.message!r}",
        )


# --- running simulations ---------------------------------------------------------------


@contextmanager
def _quiet(silence: bool) -> Iterator[None]:
    """Silence the ``trouper`` logger for a run (the trace has it all), then restore it."""
    logger = logging.getLogger("trouper")
    level = logger.level
    if silence:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Make Trio's scheduling and the global ``random`` a function of ``seed``, then restore."""
    from trio._core import _run  # the one private use: Trio's deterministic scheduling switch

    if not hasattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING") or not hasattr(_run, "_r"):
        raise RuntimeError(
            f"trio {trio.__version__} has no deterministic scheduling mode; "
            "trouper's simulations need it (trio >= 0.30 has it)"
        )
    flag, scheduler_state = _run._ALLOW_DETERMINISTIC_SCHEDULING, _run._r.getstate()
    global_state = random.getstate()
    _run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    _run._r.seed(f"trouper.sim/{seed}/scheduler")
    random.seed(f"trouper.sim/{seed}/global")
    try:
        yield
    finally:
        _run._ALLOW_DETERMINISTIC_SCHEDULING = flag  # type: ignore[misc]
        _run._r.setstate(scheduler_state)
        random.setstate(global_state)


@attrs.frozen
class SimulationResult(Generic[T]):
    """What one run did: its seed, its trace, and how it ended."""

    seed: int
    """The seed of the run."""
    faults: FaultPlan
    """The faults it injected."""
    trace: Trace
    """Everything that happened, in order."""
    value: T | None
    """What the system function returned (``None`` if it did not return)."""
    error: BaseException | None
    """What ended the run early: an exception of the system, a runtime failure, a ``Deadlock``."""

    @property
    def ok(self) -> bool:
        """Whether the run finished without error."""
        return self.error is None


def run_simulation(
    system: System[T],
    *,
    seed: int,
    faults: FaultPlan | None = None,
    log: bool = False,
    max_time: float | None = DEFAULT_MAX_TIME,
    spin_steps: int = SPIN_STEPS,
    **runtime_options: object,
) -> SimulationResult[T]:
    """Run ``await system(sim)`` in a fresh simulation and return what happened.

    A synchronous call: it runs its own ``trio.run`` on virtual time, with
    scheduling and randomness fixed by ``seed``, so the same ``system``,
    ``seed`` and ``faults`` give the identical trace, in this process or
    another. ``runtime_options`` are ``open_runtime`` options (not ``node``,
    ``seed``). Errors of the system are not raised: they are the result's
    ``error``. The ``trouper`` logger is silent during the run unless
    ``log=True`` (the trace records every failure). A run still going after
    ``max_time`` virtual seconds (default one hour; ``None``: no bound) ends
    with ``MaxTimeExceeded``: a system waiting for ever beside a periodic
    timer never looks deadlocked. So does a bounded run whose tasks take
    ``spin_steps`` steps at one virtual instant (default 200 000; a loop
    that never waits keeps time from passing). The durable store's wall
    clock starts at 2026-01-01T00:00:00Z and follows virtual time, so what a
    ``store`` records (a dead letter's ``dead_at``...) is the same for the same
    seed too.

    Raises:
        ValueError: ``seed``, ``faults``, ``max_time``, ``spin_steps`` (an int > 0)
            or a runtime option is not valid.
        TypeError: ``system`` is not callable, or ``open_runtime`` takes no such option.
    """
    _check_system(system)
    _check_runtime_options(runtime_options)
    simulation = Simulation(seed, faults, max_time=max_time, spin_steps=spin_steps)
    with _seeded(seed), _quiet(not log):
        return trio.run(
            _run_system,
            simulation,
            system,
            runtime_options,
            clock=trio.testing.MockClock(autojump_threshold=0),
        )


async def _run_system(
    simulation: Simulation, system: System[T], options: Mapping[str, object]
) -> SimulationResult[T]:
    # A store in the options, or one the system opens, writes wall-clock times.
    set_wall_clock(WALL_CLOCK_EPOCH)
    value: T | None = None
    error: BaseException | None = None
    try:
        async with simulation._running(options) as sim:
            value = await _call_system(system, sim)
    except Exception as failure:
        error = failure
    _raise_if_misused(error)
    return SimulationResult(simulation.seed, simulation.faults, simulation.trace, value, error)


class _NotAwaitable(TypeError):
    """The system returned nothing to await: it is a plain function (the caller's mistake)."""


async def _call_system(system: Callable[[S], Awaitable[T]], sim: S) -> T:
    """``await system(sim)``; a call that returns no awaitable raises ``_NotAwaitable``.

    A plain function cannot be told from a callable that returns an awaitable
    before it is called, so it is refused at its first call, and raised by
    ``_raise_if_misused`` once the run has ended rather than taken for the run's error.
    """
    called: object = system(sim)
    if not inspect.isawaitable(called):
        raise _NotAwaitable(
            f"system must be an async function taking the simulation: {_name(system)}(sim) "
            f"returned {called!r}, not an awaitable"
        )
    return await called  # type: ignore[no-any-return]


def _raise_if_misused(error: BaseException | None) -> None:
    """Raise the ``TypeError`` of a system that was no async function; else nothing.

    Raises:
        TypeError: ``error`` is a ``_NotAwaitable``.
    """
    if isinstance(error, _NotAwaitable):
        raise TypeError(*error.args) from None


@asynccontextmanager
async def simulate(
    *,
    seed: int,
    faults: FaultPlan | None = None,
    max_time: float | None = DEFAULT_MAX_TIME,
    spin_steps: int = SPIN_STEPS,
    **runtime_options: object,
) -> AsyncIterator[Simulation]:
    """Run a simulation inside the current Trio run (a test), for an ``async with`` block.

    From the block's start, Trio's scheduling and the global ``random`` are
    seeded (and restored at its end), faults are injected and everything is
    traced in ``sim.trace``. A deadlock cancels the block and raises
    ``Deadlock``; so does reaching ``max_time`` virtual seconds from the
    block's start, or taking ``spin_steps`` task steps at one virtual instant
    (default 200 000), raising ``MaxTimeExceeded``. Needs virtual time (the ``runtime`` fixture and
    ``MockClock(autojump_threshold=0)`` give it). What ran before the block
    (fixtures, other tasks) can make two runs differ; ``run_simulation`` and
    ``explore``, which own their Trio run, are exactly reproducible.

    Raises:
        ValueError: ``seed``, ``faults``, ``max_time``, ``spin_steps`` or a runtime
            option is not valid.
        TypeError: ``open_runtime`` takes no such option.
        RuntimeError: the clock is not virtual.
    """
    _check_runtime_options(runtime_options)
    clock = trio.lowlevel.current_clock()
    if not isinstance(clock, trio.testing.MockClock) or clock.autojump_threshold != 0:
        raise RuntimeError(
            "simulate() needs virtual time: run under trio.testing.MockClock(autojump_threshold=0) "
            "(trouper's pytest plugin does it for tests that use the runtime fixture)"
        )
    simulation = Simulation(seed, faults, max_time=max_time, spin_steps=spin_steps)
    with _seeded(seed):
        async with simulation._running(runtime_options) as sim:
            yield sim


@attrs.frozen
class Exploration:
    """What ``explore`` found: how many seeds ran, and the first run that broke, if any."""

    runs: int
    """How many seeds were run."""
    failure: SimulationResult[object] | None
    """The first run that broke the check, with its seed, trace and error."""
    problem: BaseException | None
    """Why it broke: its error, or the check's ``AssertionError``."""
    replay: str | None
    """The line that replays the failing run."""

    @property
    def failed(self) -> bool:
        """Whether some seed broke the check."""
        return self.failure is not None

    def __str__(self) -> str:
        if self.failure is None:
            return f"explored {self.runs} seeds: every run passed the check"
        return "\n".join(
            [
                f"explored {self.runs} seeds: seed {self.failure.seed} breaks the check",
                f"problem: {_describe_problem(self.problem)}",
                f"replay:  {self.replay}",
                "trace (last 40 events):",
                self.failure.trace.render(limit=40),
            ]
        )


def _describe_problem(problem: BaseException | None) -> str:
    """Why a run broke, for a report: ``TypeName('message')``, or its lines if it has several.

    A deadlock's waits, or an assertion that pytest rewrote, read line by line:
    the repr of a many-line message would show them as ``\\n`` escapes on one line.
    """
    if problem is None:
        return "?"
    text = describe(problem)
    try:
        lines = str(problem).splitlines()
    except Exception:  # a broken __str__: ``describe`` says so
        return text
    if len(lines) < 2:
        return text
    first = f"{type(problem).__name__}: {lines[0]}"
    return "\n".join([first, *(f"  {line}" for line in lines[1:])])


def explore(
    system: System[T],
    *,
    seeds: Iterable[int],
    check: Callable[[SimulationResult[T]], object] | None = None,
    faults: FaultPlan | None = None,
    log: bool = False,
    max_time: float | None = DEFAULT_MAX_TIME,
    spin_steps: int = SPIN_STEPS,
    **runtime_options: object,
) -> Exploration:
    """Run ``system`` once per seed; report the first run that breaks.

    A run breaks when the system raises, the runtime fails, it deadlocks, it
    is still going after ``max_time`` virtual seconds or spins ``spin_steps``
    steps at one instant (``MaxTimeExceeded``), or
    ``check(result)`` raises ``AssertionError`` or returns ``False`` (use
    ``check`` for invariants over the final state, ``result.value``, or the
    trace). Stops at the first broken run and says which seed, why, the
    trace, and the one line that replays it. Anything else ``check`` raises
    goes up as it is, with a note naming the seed and that line.

    Raises:
        ValueError: ``seeds`` gave no seed (nothing would be explored), an
            argument is not valid (as for ``run_simulation``; checked before
            any run, but for each seed, checked as its turn comes), or a
            ``store`` is given (a store opens only once: ``explore_durable``
            opens one per seed).
        TypeError: ``system`` or ``check`` is not callable, ``seeds`` is not
            iterable, or ``open_runtime`` takes no such option.
    """
    _check_system(system)
    _check_check(check)
    _check_runtime_options(runtime_options)
    if "store" in runtime_options:
        # The second seed's runtime would fail to open it, reported as that seed breaking.
        raise ValueError(
            "explore runs each seed on a runtime of its own and a store opens only once: "
            "use explore_durable, which opens a store per seed, "
            f"got store={runtime_options['store']!r}"
        )
    options = _replay_options(max_time, spin_steps, runtime_options)
    runs = 0
    for seed in _iter_seeds(seeds):
        runs += 1
        plan = FaultPlan() if faults is None else faults
        replay = f"run_simulation({_name(system)}, seed={seed}, faults={plan!r}{options})"
        with _noted(f"raised by the system in seed {seed}; replay: {replay}"):
            result = run_simulation(
                system,
                seed=seed,
                faults=faults,
                log=log,
                max_time=max_time,
                spin_steps=spin_steps,
                **runtime_options,
            )
        problem = _problem_of(
            result, check, note=f"raised by the check of seed {seed}; replay: {replay}"
        )
        if problem is not None:
            return Exploration(runs, result, problem, replay)  # type: ignore[arg-type]
    if not runs:
        raise ValueError("seeds gave no seed: explore ran nothing")
    return Exploration(runs, None, None, None)


@contextmanager
def _noted(note: str) -> Iterator[None]:
    """Add ``note`` (which seed, how to replay it) to what is no ``Exception`` the block raises.

    An ``Exception`` of the system is its run's result, reported with the seed; a
    ``BaseException`` (``pytest.fail``, ``SystemExit``) ends the exploration as it
    is, and the note says where it came from.
    """
    try:
        yield
    except Exception:
        raise
    except BaseException as error:
        error.add_note(note)
        raise


def _replay_options(
    max_time: float | None, spin_steps: int, runtime_options: Mapping[str, object]
) -> str:
    """The options of a replay line: ``max_time``, ``spin_steps`` unless the default, the runtime's.

    Without them the line would run another system (or stop it elsewhere). Checks
    the bounds, before any run.
    """
    _check_max_time(max_time)
    _check_spin_steps(spin_steps)
    options: dict[str, object] = {} if max_time == DEFAULT_MAX_TIME else {"max_time": max_time}
    if spin_steps != SPIN_STEPS:
        options["spin_steps"] = spin_steps
    options.update(runtime_options)
    return "".join(f", {key}={literal(value)}" for key, value in options.items())


class _Ended(Protocol):
    """A finished run, as a check sees it (``SimulationResult``, ``DurableSimulationResult``)."""

    @property
    def error(self) -> BaseException | None: ...


R = TypeVar("R", bound=_Ended)


def _problem_of(
    result: R, check: Callable[[R], object] | None, *, note: str
) -> BaseException | None:
    """Why a run broke: its error, else what ``check`` said of it; ``None`` if it passed.

    ``check`` breaks a run by raising ``AssertionError`` (returned as it is)
    or by returning ``False`` (an ``AssertionError`` naming the check).
    Anything else it raises is not a verdict (a bug of the check,
    ``pytest.fail``): it goes up with ``note`` (which seed, how to replay it).
    """
    if result.error is not None or check is None:
        return result.error
    try:
        verdict = check(result)
    except AssertionError as failed:
        return failed
    except BaseException as error:
        error.add_note(note)
        raise
    if verdict is False:
        name = getattr(check, "__qualname__", repr(check)).rpartition("<locals>.")[2]
        return AssertionError(f"check {name} returned False")
    return None


def _name(fn: object) -> str:
    """How the replay line names ``fn``: ``module.qualname``, or the call of a partial."""
    if isinstance(fn, functools.partial):
        args = [_name(fn.func), *map(repr, fn.args)]
        args += [f"{key}={value!r}" for key, value in fn.keywords.items()]
        return f"functools.partial({', '.join(args)})"
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{module}.{name}" if module and module != "__main__" else name
