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

from bench.common import add_run_options, choose_workloads
from bench.runner import WrongCount, meta, render, run, to_json
from bench.workloads import WORKLOADS

QUICK_SCALE = 0.001


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure trouper against raw Trio; print a table of ratios and targets.",
    )
    add_run_options(parser)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks from the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    chosen = choose_workloads(parser, args, WORKLOADS, quick_scale=QUICK_SCALE, key_width=12)
    if chosen is None:
        return 0
    workloads, scale = chosen

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
