"""What both sides of a workload share: messages, the tally, samples, clocks, memory probes.

Both sides handle the same frozen attrs messages and do the same work per
message (``Tally.add``), so a ratio measures delivery and scheduling only.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import signal
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter
from typing import Literal, Protocol, TypeVar

import attrs
import trio

__all__ = [
    "MAILBOX_SIZE",
    "PING",
    "MemoryProbe",
    "Ping",
    "ProbeKind",
    "Sample",
    "Tally",
    "Token",
    "WrongCount",
    "add_run_options",
    "best_of_interleaved",
    "check_count",
    "format_table",
    "in_fresh_process",
    "rate",
    "run_from_args",
    "shares",
]

MAILBOX_SIZE = 1000
"""Capacity of every mailbox and raw channel (trouper's default mailbox size)."""


@attrs.frozen
class Ping:
    """A message whose handler only counts it."""

    n: int
    """A sequence number, unused by handlers."""


PING = Ping(0)
"""The one ``Ping`` both sides send: the benchmarks measure delivery, not construction."""


@attrs.frozen
class Token:
    """The message a ring passes on."""

    left: int
    """How many hops remain after this one; the node that gets 0 ends the run."""


class Tally:
    """Counts handled messages and sets ``done`` at the expected count.

    ``add`` is the whole of a handler's work, on both sides. One tally may be
    shared by many actors (fan-out, ring): all of them run in one Trio thread.
    """

    __slots__ = ("count", "done", "expected")

    def __init__(self, expected: int) -> None:
        self.count = 0
        self.expected = expected
        self.done = trio.Event()

    def add(self) -> int:
        """Count one message; return the count so far."""
        self.count = count = self.count + 1
        if count == self.expected:
            self.done.set()
        return count


@attrs.frozen
class Sample:
    """One measurement of one side of a workload."""

    value: float
    """Operations per second, or bytes per actor for memory workloads."""
    handled: int
    """What the side counted (messages handled, actors made); must equal the workload's size."""


def rate(n: int, start: float) -> float:
    """Operations per second for ``n`` operations started at ``perf_counter() == start``."""
    return n / (perf_counter() - start)


def in_fresh_process(fn: Callable[..., Sample], **options: object) -> Callable[[int], Sample]:
    """Make ``fn(n, **options)`` run in a new interpreter, for measures earlier work would skew.

    RSS is one: memory that earlier workloads freed but the allocator kept is
    reused, so in-process growth shrinks from one repetition to the next.
    ``fn`` must be a module-level function and ``options`` plain literals.
    """
    code = (
        f"import json; from {fn.__module__} import {fn.__qualname__} as fn; "
        f"s = fn(int(input()), **{options!r}); print(json.dumps([s.value, s.handled]))"
    )

    def run(n: int) -> Sample:
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=str(n),
            cwd=_PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"{fn.__qualname__} failed in a fresh process:\n{done.stderr}")
        value, handled = json.loads(done.stdout)
        return Sample(float(value), int(handled))

    return run


_PROJECT_ROOT = Path(__file__).resolve().parents[1]

ProbeKind = Literal["traced", "rss"]

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _load_malloc_trim() -> Callable[[int], object] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_malloc_trim()


def _settle() -> None:
    """Free what is garbage and hand freed heap pages back to the OS (glibc only)."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


def rss_bytes() -> int:
    """Resident set size of this process, from ``/proc/self/statm`` (0 where it is absent)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return 0


class MemoryProbe:
    """Measures how much memory N things add: ``start()``, make them, ``per_item(n)``.

    ``"traced"`` counts the bytes of live Python allocations made in between
    (``tracemalloc``, started and stopped by the probe); ``"rss"`` the growth
    of the resident set, which also sees allocator overhead and reuse. Both
    collect garbage first. Do not time anything while a traced probe runs.
    """

    def __init__(self, kind: ProbeKind) -> None:
        self.kind = kind
        self._base = 0

    def _read(self) -> int:
        if self.kind == "traced":
            return tracemalloc.get_traced_memory()[0]
        return rss_bytes()

    def start(self) -> None:
        """Take the baseline."""
        _settle()
        if self.kind == "traced":
            tracemalloc.start()
        self._base = self._read()

    def per_item(self, n: int) -> float:
        """Bytes added per item since ``start()`` (stops tracing)."""
        _settle()
        grown = self._read() - self._base
        if self.kind == "traced":
            tracemalloc.stop()
        return grown / n


class WrongCount(RuntimeError):
    """A side handled or received a different number of messages (or actors) than it should."""


def check_count(count: int, n: int) -> None:
    """Raise :class:`WrongCount` unless a side received all ``n`` it should have."""
    if count != n:
        raise WrongCount(f"received {count:,} of {n:,}")


def shares(n: int, parts: int) -> list[int]:
    """Split ``n`` into at most ``parts`` near-equal positive counts (one per concurrent task)."""
    base, extra = divmod(n, parts)
    return [base + (1 if i < extra else 0) for i in range(parts) if base or i < extra]


def format_table(
    header: Sequence[str], lines: Sequence[Sequence[str]], numeric: set[int]
) -> list[str]:
    """Lay out a table: the header, a rule, a line per row; ``numeric`` columns right-aligned."""
    widths = [max(len(cells[i]) for cells in (header, *lines)) for i in range(len(header))]

    def format_line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [
        format_line(header),
        "  ".join("-" * width for width in widths),
        *(format_line(cells) for cells in lines),
    ]


Side = tuple[str, Callable[[str, int], float]]
"""One side of a rate workload against a server: a label for progress lines, and ``fn(url, n)``."""


def best_of_interleaved(
    plan: Sequence[tuple[str, int, Sequence[Side]]],
    url: str,
    *,
    repeat: int,
    quiet: bool,
) -> list[list[float]]:
    """Run every ``(key, n, sides)`` of ``plan`` ``repeat`` times; return each side's best rate.

    Repetitions go round the whole plan, and the side that runs first
    alternates between repetitions. The result holds, per entry of ``plan``,
    the best rate of each of its sides, in the order given.
    """
    best = [[0.0] * len(sides) for _, _, sides in plan]
    for rep in range(repeat):
        for (key, n, sides), best_of in zip(plan, best, strict=True):
            order = list(enumerate(sides))
            if rep % 2:
                order.reverse()
            for i, (label, fn) in order:
                if not quiet:
                    print(f"[{rep + 1}/{repeat}] {key} {label} n={n:,}", file=sys.stderr)
                gc.collect()
                best_of[i] = max(best_of[i], fn(url, n))
    return best


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Add the options :func:`run_from_args` reads: repeat, scale, quick, only, quiet, list."""
    parser.add_argument("--repeat", type=int, default=3, help="rounds per side (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--only", metavar="KEYS", help="comma-separated workload keys")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--list", action="store_true", help="print the workloads and exit")


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...


W = TypeVar("W", bound=_Keyed)


def choose_workloads(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    workloads: Sequence[W],
    *,
    quick_scale: float,
    key_width: int,
) -> tuple[Sequence[W], float] | None:
    """Check :func:`add_run_options`' options: the workloads ``--only`` picks and the scale.

    Returns ``None`` after printing the workloads for ``--list``; a bad
    option exits through ``parser.error``.
    """
    if args.list:
        for workload in workloads:
            print(f"{workload.key:<{key_width}} {workload.name}")
        return None
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    scale = quick_scale if args.quick else args.scale
    if scale <= 0:
        parser.error(f"--scale must be > 0, got {scale}")
    if not args.only:
        return workloads, scale
    keys = {key.strip() for key in args.only.split(",") if key.strip()}
    unknown = keys - {w.key for w in workloads}
    if unknown:
        parser.error(f"unknown workload keys: {', '.join(sorted(unknown))}")
    return [w for w in workloads if w.key in keys], scale


def run_from_args(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    workloads: Sequence[W],
    *,
    quick_scale: float,
    key_width: int,
    measure: Callable[[Sequence[W], float], str],
    title: Callable[[float], str],
) -> int:
    """Do what :func:`add_run_options`' options ask; return the exit status.

    ``--list`` prints the workloads; otherwise ``measure(selected, scale)``
    runs them and returns the table, printed under ``title(scale)``. A
    :class:`WrongCount` is reported and exits 1.
    """
    chosen = choose_workloads(parser, args, workloads, quick_scale=quick_scale, key_width=key_width)
    if chosen is None:
        return 0
    selected, scale = chosen
    # Killed from outside (a timeout), leave through the with-blocks, so the
    # server started for the run is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        table = measure(selected, scale)
    except WrongCount as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(title(scale) + "\n")
    print(table, end="")
    return 0
