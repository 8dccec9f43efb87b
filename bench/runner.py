"""Run workloads interleaved, keep the best of each side, and report them.

Repetitions go round the whole list (so a burst of machine noise spreads over
workloads rather than hitting all repetitions of one), and within a workload
the side that runs first alternates between repetitions.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TextIO

import attrs
import trio

import trouper
from bench.common import Sample, WrongCount, format_table
from bench.workloads import Workload

__all__ = ["Row", "WrongCount", "meta", "render", "run", "to_json"]


@attrs.frozen
class Row:
    """One workload's results: every sample of both sides, and the verdict."""

    workload: Workload
    """What was measured."""
    n: int
    """The size it ran at."""
    raw: tuple[Sample, ...]
    """The raw side's samples, in the order taken."""
    trouper: tuple[Sample, ...]
    """The trouper side's samples, in the order taken."""

    @property
    def best_raw(self) -> float:
        """The raw side's best value."""
        return self.workload.best(list(self.raw))

    @property
    def best_trouper(self) -> float:
        """The trouper side's best value."""
        return self.workload.best(list(self.trouper))

    @property
    def ratio(self) -> float:
        """trouper / raw, of the best values (NaN if raw measured nothing)."""
        return self.best_trouper / self.best_raw if self.best_raw else float("nan")

    @property
    def verdict(self) -> str:
        """``PASS`` or ``MISS`` against the target, ``info`` without one."""
        target = self.workload.target
        if target is None:
            return "info"
        return "PASS" if target.met(self.ratio) else "MISS"


def run(
    workloads: Sequence[Workload],
    *,
    scale: float = 1.0,
    repeat: int = 3,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Run each workload's two sides ``repeat`` times at ``scale``; return a row per workload.

    Raises:
        WrongCount: a side did not handle exactly its workload's size.
    """
    samples: dict[str, tuple[list[Sample], list[Sample]]] = {w.key: ([], []) for w in workloads}
    for rep in range(repeat):
        for workload in workloads:
            n = workload.scaled(scale)
            raw_samples, trouper_samples = samples[workload.key]
            sides = [
                ("raw", workload.raw, raw_samples),
                ("trouper", workload.trouper, trouper_samples),
            ]
            if rep % 2:
                sides.reverse()
            for side, fn, taken in sides:
                if progress is not None:
                    progress(f"[{rep + 1}/{repeat}] {workload.key} {side} n={n:,}")
                gc.collect()
                sample = fn(n)
                if sample.handled != n:
                    raise WrongCount(
                        f"{workload.key}: {side} counted {sample.handled:,}, expected {n:,}"
                    )
                taken.append(sample)
    return [
        Row(w, w.scaled(scale), tuple(samples[w.key][0]), tuple(samples[w.key][1]))
        for w in workloads
    ]


def _value(value: float) -> str:
    return f"{value:,.0f}"


def render(rows: Sequence[Row], out: TextIO) -> None:
    """Write the results as an aligned text table, then notes on the baselines."""
    header = ("workload", "n", "unit", "baseline", "raw", "trouper", "ratio", "target", "result")
    lines = [
        (
            row.workload.name,
            f"{row.n:,}",
            row.workload.unit,
            row.workload.baseline,
            _value(row.best_raw),
            _value(row.best_trouper),
            f"{row.ratio:.2f}",
            "-" if row.workload.target is None else str(row.workload.target),
            row.verdict,
        )
        for row in rows
    ]
    for line in format_table(header, lines, numeric={1, 4, 5, 6}):
        out.write(line + "\n")
    by_key = {row.workload.key: row for row in rows}
    if "tell" in by_key and "tell_nowait" in by_key:
        speedup = by_key["tell_nowait"].best_raw / by_key["tell"].best_raw
        out.write(f"\ngreedy raw / raw (tell): {speedup:.1f}x\n")
    out.write(
        "ratio = trouper / raw of the best of each side; rates are best high, memory best low.\n"
    )


def meta(*, scale: float, repeat: int) -> dict[str, object]:
    """What a result depends on besides the code: versions, machine, options."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "trio": trio.__version__,
        "trouper": trouper.__version__,
        "scale": scale,
        "repeat": repeat,
    }


def to_json(rows: Sequence[Row], info: dict[str, object]) -> dict[str, object]:
    """The results as JSON-ready data: ``{"meta": ..., "rows": [...]}``."""
    return {
        "meta": info,
        "rows": [
            {
                "key": row.workload.key,
                "name": row.workload.name,
                "n": row.n,
                "unit": row.workload.unit,
                "baseline": row.workload.baseline,
                "raw": row.best_raw,
                "trouper": row.best_trouper,
                "ratio": row.ratio if math.isfinite(row.ratio) else None,
                "target": None if row.workload.target is None else str(row.workload.target),
                "result": row.verdict,
                "samples": {
                    "raw": [attrs.asdict(s) for s in row.raw],
                    "trouper": [attrs.asdict(s) for s in row.trouper],
                },
            }
            for row in rows
        ],
    }
