"""Durable simulations: kill the whole runtime at chosen instants, restart it on the same store.

Theory of operation
-------------------
``run_durable_simulation(system, seed=..., crashes=(2.5, 7.0))`` runs
``await system(sim)`` in a seeded simulation (``_simulation``: virtual time,
deterministic scheduling, fault plan, trace) whose runtime has a store, one
SQLite file in a temporary directory unless a path is given. At each crash
instant (virtual seconds since the start) the runtime is killed as a process
would be: the store stops at once (``SqliteStore.simulate_crash``: what was
staged and not committed is lost, the claim watermarks stay), then every
task of the runtime is cancelled, no ``on_stop`` runs, nothing is committed
on the way out. From the kill on, no handler of that runtime starts (one
about to waits for the cancellation), and nothing it does is traced,
counted for a ``Crash`` rule or drawn from the fault plan: what its tasks do
until they are cancelled is not the life of the process. A new runtime (the
next *incarnation*) then opens the same file and ``system(sim)`` is called
again (``sim.incarnation`` says which);
it spawns the same durable actors, which recover what was stored. The run
ends when an incarnation's ``system`` returns: a crash instant still to
come then does not happen.

The store runs SQLite on Trio's thread (``SqliteStore(threads=False)``): no
thread decides when a commit's result arrives, so the same seed gives the
same trace; its wall clock starts at a fixed epoch (``set_wall_clock``), so
the times it records are the same too. After the run the store is opened
once more and its mailboxes and dead letters are put in the result, for
``check`` to verify invariants after the last recovery (``explore_durable``
runs many seeds and reports the first that breaks one).
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Generic, TypeVar

import attrs
import trio
import trio.testing

from trouper.durable import DeadLetterRecord, MailboxStatistics, SqliteStore, set_wall_clock
from trouper.runtime import Runtime
from trouper.testing._faults import MAIN, FaultPlan
from trouper.testing._simulation import (
    DEFAULT_MAX_TIME,
    SPIN_STEPS,
    WALL_CLOCK_EPOCH,
    Simulation,
    _call_system,
    _check_check,
    _check_runtime_options,
    _check_system,
    _describe_problem,
    _iter_seeds,
    _name,
    _noted,
    _problem_of,
    _quiet,
    _raise_if_misused,
    _replay_options,
    _seeded,
)
from trouper.testing._trace import Trace, TraceKind

__all__ = [
    "DurableExploration",
    "DurableSimulation",
    "DurableSimulationResult",
    "explore_durable",
    "run_durable_simulation",
]

T = TypeVar("T")
DurableSystem = Callable[["DurableSimulation"], Awaitable[T]]
CrashPlan = Iterable[float] | Callable[[random.Random], Iterable[float]]
"""Crash instants (virtual seconds from the start), or a function of a seeded source giving them."""


class DurableSimulation(Simulation):
    """A running durable simulation: the current incarnation's runtime and store, the trace."""

    def __init__(
        self,
        seed: int,
        faults: FaultPlan | None,
        path: Path,
        *,
        max_time: float | None = DEFAULT_MAX_TIME,
        spin_steps: int = SPIN_STEPS,
    ) -> None:
        super().__init__(seed, faults, max_time=max_time, spin_steps=spin_steps)
        self.path = path
        """The store file every incarnation opens."""
        self.incarnation = 0
        """How many crashes came before the running incarnation (0: the first run)."""
        self._store: SqliteStore | None = None

    @property
    def store(self) -> SqliteStore:
        """The running incarnation's store (the same file each time)."""
        if self._store is None:
            raise RuntimeError("the simulation is not running")
        return self._store


@attrs.frozen
class DurableSimulationResult(Generic[T]):
    """What a durable simulation did, and what its store holds after the last incarnation."""

    seed: int
    """The seed of the run."""
    faults: FaultPlan
    """The faults it injected."""
    crashes: tuple[float, ...]
    """The instants (virtual seconds from the start) at which the runtime was killed."""
    trace: Trace
    """Everything that happened, across incarnations, in order."""
    value: T | None
    """What the last incarnation's ``system`` returned (``None`` if it did not)."""
    error: BaseException | None
    """What ended the run early: an error of the system, a runtime failure, a ``Deadlock``."""
    mailboxes: tuple[MailboxStatistics, ...]
    """Every mailbox's counts in the store after the run."""
    dead_letters: tuple[DeadLetterRecord, ...]
    """The dead-letter queue after the run, oldest first."""

    @property
    def ok(self) -> bool:
        """Whether the run finished without error."""
        return self.error is None


def run_durable_simulation(
    system: DurableSystem[T],
    *,
    seed: int,
    crashes: CrashPlan = (),
    faults: FaultPlan | None = None,
    path: str | Path | None = None,
    log: bool = False,
    max_time: float | None = DEFAULT_MAX_TIME,
    spin_steps: int = SPIN_STEPS,
    **runtime_options: object,
) -> DurableSimulationResult[T]:
    """Run ``system`` with a store, killing and restarting the runtime at each crash instant.

    A synchronous call with its own ``trio.run`` on virtual time: the same
    ``system``, ``seed``, ``crashes`` and ``faults`` give the identical trace.
    ``crashes`` are virtual seconds from the start, or a function of a
    random source seeded from ``seed`` that returns them. ``path`` is the
    store file (default: a new one in a temporary directory, removed after);
    it must not exist yet, and is kept after the run for inspection.
    ``runtime_options`` are ``open_runtime`` options (not ``node``, ``seed``,
    ``store``). Errors are not raised: they are the result's ``error``.
    ``max_time`` bounds the whole run, every incarnation, in virtual seconds
    from the start (as ``run_simulation``'s: default one hour, ``None`` no
    bound; past it the run ends with ``MaxTimeExceeded``), and so does
    ``spin_steps``, the task steps an incarnation may take at one virtual
    instant (default 200 000). The store's wall clock starts at
    2026-01-01T00:00:00Z and follows virtual time, so the times it records
    (a dead letter's ``dead_at``...) are the same for the same seed too:
    so is the whole result.

    Raises:
        ValueError: ``path`` exists (a run there would start from what it holds
            and not replay) or its directory does not, a crash instant is not a finite number >= 0,
            ``max_time`` is not a finite number > 0 or ``None``, ``spin_steps``
            is not an int > 0, or a runtime
            option is not valid (``node``, ``seed`` and ``store`` are the
            simulation's own).
        TypeError: ``system`` is not callable, ``path`` is not a str or
            ``os.PathLike``, or ``open_runtime`` takes no such option.
    """
    _check_system(system)
    _check_runtime_options(runtime_options, _RESERVED)
    instants = _instants(crashes, seed)
    _check_path(path)
    with tempfile.TemporaryDirectory(prefix="trouper-sim-") as directory:
        file = Path(directory) / "store.db" if path is None else Path(path)
        simulation = DurableSimulation(seed, faults, file, max_time=max_time, spin_steps=spin_steps)
        with _seeded(seed), _quiet(not log):
            return trio.run(
                _run,
                simulation,
                system,
                tuple(sorted(instants)),
                runtime_options,
                clock=trio.testing.MockClock(autojump_threshold=0),
            )


def _check_path(path: object) -> None:
    """Refuse a ``path`` that cannot be a new store file, before any run.

    Raises:
        TypeError: it is not a str or an ``os.PathLike`` of one (nor ``None``).
        ValueError: it exists, or its directory does not.
    """
    if path is None:
        return
    try:
        file = Path(path)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}") from None
    if file.exists():
        raise ValueError(
            f"path {str(path)!r} exists: a durable simulation starts from a new store, or "
            "the same seed would not give the same run (remove it, or give a new path)"
        )
    if not file.parent.is_dir():
        raise ValueError(
            f"path {str(path)!r} is in no directory: {str(file.parent)!r} does not exist"
        )


_RESERVED = ("node", "seed", "store")
"""The runtime options a durable simulation sets itself, for each incarnation."""


def _instants(crashes: CrashPlan, seed: int) -> tuple[float, ...]:
    """The crash instants of ``seed``'s run: ``crashes``, or what it draws for the seed.

    Raises:
        ValueError: ``crashes`` is not a sequence or a function, or an instant
            is not a finite number >= 0.
    """
    if callable(crashes):
        drawn: object = crashes(random.Random(f"trouper.sim/{seed}/crashes"))
    else:
        drawn = crashes
    if not isinstance(drawn, Iterable) or isinstance(drawn, str | bytes):
        raise ValueError(
            f"crashes must be instants (a sequence of seconds) or a function, got {drawn!r}"
        )
    instants = tuple(drawn)
    for instant in instants:
        if not (
            isinstance(instant, int | float)
            and not isinstance(instant, bool)
            and 0 <= instant < math.inf
        ):
            raise ValueError(f"crash instants must be finite numbers >= 0, got {instant!r}")
    return instants


async def _run(
    sim: DurableSimulation,
    system: DurableSystem[T],
    instants: tuple[float, ...],
    options: Mapping[str, object],
) -> DurableSimulationResult[T]:
    sim._start = trio.current_time()
    set_wall_clock(WALL_CLOCK_EPOCH)
    value: T | None = None
    error: BaseException | None = None
    happened: list[float] = []
    for incarnation in range(len(instants) + 1):
        crash_at = instants[incarnation] if incarnation < len(instants) else None
        sim.incarnation = incarnation
        if incarnation:
            sim.record(TraceKind.FAULT, MAIN, f"restart: incarnation {incarnation}")
        crashed, value, error = await _incarnation(sim, system, crash_at, options)
        _raise_if_misused(error)
        if not crashed:
            break
        assert crash_at is not None
        happened.append(crash_at)
    mailboxes, dead = await _read_back(sim.path)
    return DurableSimulationResult(
        sim.seed, sim.faults, tuple(happened), sim.trace, value, error, mailboxes, dead
    )


async def _incarnation(
    sim: DurableSimulation,
    system: DurableSystem[T],
    crash_at: float | None,
    options: Mapping[str, object],
) -> tuple[bool, T | None, BaseException | None]:
    """Run one incarnation; return whether it was killed, and the system's value or error."""
    store = SqliteStore(sim.path, synchronous="normal", threads=False)
    runtime = Runtime(
        node="sim",
        seed=sim.seed * 1_000_003 + sim.incarnation,
        store=store,
        **options,  # type: ignore[arg-type]
    )
    crashed = False
    value: T | None = None
    error: BaseException | None = None

    async def crash(scope: trio.CancelScope, at: float) -> None:
        nonlocal crashed
        await trio.sleep_until(sim._start + at)
        sim.record(
            TraceKind.FAULT, MAIN, f"crash: the runtime is killed (incarnation {sim.incarnation})"
        )
        crashed = True
        sim._killed = True  # no handler of this runtime starts again, nothing more is traced
        await store.simulate_crash()
        scope.cancel()

    try:
        async with sim._watched(runtime) as killed, trio.open_nursery() as nursery:
            sim._runtime, sim._store = runtime, store
            if crash_at is not None:
                nursery.start_soon(crash, killed, crash_at)
            try:
                with trio.CancelScope() as sim._body:
                    value = await _call_system(system, sim)
            except Exception as failure:  # the system's own, not in a nursery's group
                error = failure
            finally:
                sim._body = None
                if not crashed:
                    nursery.cancel_scope.cancel()
    except Exception as failure:  # the runtime's failure, as it is (it outranks the system's)
        error = failure
    finally:
        sim._runtime = sim._store = None
        sim._killed = False  # every task of the killed runtime has ended
    if crashed:
        return True, None, None
    if error is None and sim._stopped is not None:
        error = sim._stopped
    return False, value, error


async def _read_back(
    path: Path,
) -> tuple[tuple[MailboxStatistics, ...], tuple[DeadLetterRecord, ...]]:
    """Open the store once more, after the last incarnation, and read what it holds."""
    async with SqliteStore(path, synchronous="normal", threads=False) as store:
        mailboxes = tuple(await store.mailbox_statistics())
        dead = tuple([letter async for letter in store.dead_letters()])
    return mailboxes, dead


@attrs.frozen
class DurableExploration:
    """What ``explore_durable`` found: how many seeds ran, and the first run that broke."""

    runs: int
    """How many seeds were run."""
    failure: DurableSimulationResult[object] | None
    """The first run that broke the check, with its seed, crashes, trace and error."""
    problem: BaseException | None
    """Why it broke: its error, or the check's ``AssertionError``."""
    replay: str | None
    """The line that replays the failing run (its crash instants written out)."""

    @property
    def failed(self) -> bool:
        """Whether some seed broke the check."""
        return self.failure is not None

    def __str__(self) -> str:
        if self.failure is None:
            return f"explored {self.runs} seeds: every run passed the check"
        return "\n".join(
            [
                f"explored {self.runs} seeds: seed {self.failure.seed} breaks the check "
                f"(crashes at {list(self.failure.crashes)})",
                f"problem: {_describe_problem(self.problem)}",
                f"replay:  {self.replay}",
                "trace (last 40 events):",
                self.failure.trace.render(limit=40),
            ]
        )


def explore_durable(
    system: DurableSystem[T],
    *,
    seeds: Iterable[int],
    crashes: CrashPlan = (),
    check: Callable[[DurableSimulationResult[T]], object] | None = None,
    faults: FaultPlan | None = None,
    log: bool = False,
    max_time: float | None = DEFAULT_MAX_TIME,
    spin_steps: int = SPIN_STEPS,
    **runtime_options: object,
) -> DurableExploration:
    """Run ``system`` once per seed, with its crashes; report the first run that breaks.

    A run breaks when it ends with an error, or ``check(result)`` raises
    ``AssertionError`` or returns ``False``. With ``crashes`` a function,
    each seed draws its own crash instants; otherwise every seed has the
    instants given (read once, so an iterator serves every seed). Anything else ``check`` raises
    goes up as it is, with a note naming the seed and the line that replays it.
    The replay line writes out the seed's crash instants, all of them (those
    after the run's end too: they are part of the run as planned).

    Raises:
        ValueError: ``seeds`` gave no seed (nothing would be explored), or an
            argument is not valid (as for ``run_durable_simulation``).
        TypeError: ``system`` or ``check`` is not callable, ``seeds`` is not
            iterable, or ``open_runtime`` takes no such option.
    """
    _check_system(system)
    _check_check(check)
    _check_runtime_options(runtime_options, _RESERVED)
    options = _replay_options(max_time, spin_steps, runtime_options)
    if not callable(crashes):
        # Read once, and checked before any run: an iterator would give its instants
        # to the first seed only, and explore the others without a crash.
        crashes = _instants(crashes, 0)
    runs = 0
    for seed in _iter_seeds(seeds):
        runs += 1
        instants = _instants(crashes, seed)
        plan = FaultPlan() if faults is None else faults
        replay = (
            f"run_durable_simulation({_name(system)}, seed={seed}, crashes={instants!r}, "
            f"faults={plan!r}{options})"
        )
        where = f"seed {seed} (crashes at {sorted(instants)})"
        with _noted(f"raised by the system in {where}; replay: {replay}"):
            result = run_durable_simulation(
                system,
                seed=seed,
                crashes=instants,
                faults=faults,
                path=None,
                log=log,
                max_time=max_time,
                spin_steps=spin_steps,
                **runtime_options,
            )
        problem = _problem_of(
            result,
            check,
            note=f"raised by the check of seed {seed} (crashes at {list(result.crashes)}); "
            f"replay: {replay}",
        )
        if problem is not None:
            return DurableExploration(runs, result, problem, replay)  # type: ignore[arg-type]
    if not runs:
        raise ValueError("seeds gave no seed: explore_durable ran nothing")
    return DurableExploration(runs, None, None, None)
