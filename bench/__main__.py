"""Benchmark trouper against raw Trio: ``python -m bench [--quick] [--repeat N] [--json PATH]``.

Method: every workload is written twice, once as plain Trio (a task per actor
reading a memory channel of the mailbox's size) and once with trouper, with
the same frozen attrs messages and the same handler work (count the message).
Both run in this one process, each sample in a fresh ``trio.run``, the two
sides interleaved (alternating which goes first) for ``--repeat`` rounds; the
best sample of each side is kept and the table shows trouper / raw beside the
issue's target. Only the work is timed (``time.perf_counter``), from the first
send to the moment the last message has been handled; setup and shutdown are
not. Memory is bytes per idle actor, the growth over a baseline taken after
``gc.collect()``, for the same number of actors on both sides: live Python
allocations by ``tracemalloc`` (the target), and RSS growth for information
(each RSS sample in a fresh interpreter, so no side reuses memory freed before).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.runner import WrongCount, meta, render, run, to_json
from bench.workloads import WORKLOADS

QUICK_SCALE = 0.001


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure trouper against raw Trio; print a table of ratios and targets.",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds per side; the best is kept (default 3)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every workload's size (default 1)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny sizes (--scale {QUICK_SCALE}), to check that every workload runs",
    )
    parser.add_argument(
        "--only",
        metavar="KEYS",
        help="comma-separated workload keys: " + ", ".join(w.key for w in WORKLOADS),
    )
    parser.add_argument("--list", action="store_true", help="print the workload keys and exit")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks from the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for workload in WORKLOADS:
            print(f"{workload.key:<12} {workload.name}")
        return 0
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    scale = QUICK_SCALE if args.quick else args.scale
    if scale <= 0:
        parser.error(f"--scale must be > 0, got {scale}")
    workloads = WORKLOADS
    if args.only:
        keys = [key.strip() for key in args.only.split(",") if key.strip()]
        known = {w.key for w in WORKLOADS}
        unknown = [key for key in keys if key not in known]
        if unknown:
            parser.error(f"unknown workload keys: {', '.join(unknown)}")
        workloads = [w for w in WORKLOADS if w.key in keys]

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    info = meta(scale=scale, repeat=args.repeat)
    try:
        rows = run(workloads, scale=scale, repeat=args.repeat, progress=progress)
    except WrongCount as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"trouper {info['trouper']} vs raw trio {info['trio']}, Python {info['python']}, "
        f"{info['cpus']} CPUs, scale {scale:g}, best of {args.repeat}\n"
    )
    render(rows, sys.stdout)
    if args.json is not None:
        args.json.write_text(json.dumps(to_json(rows, info), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
