"""Spawn and shut down many idle actors: ``python -m bench.scale [N ...] [--gc on|off|both]``.

Each size runs in a fresh interpreter (so no run inherits another's heap), with
the garbage collector on or off. Spawn time is from the first spawn to the
last one returning; shutdown time is leaving ``open_runtime()`` with default
options (each actor stopped in turn, last spawned first). Reports wall and CPU
seconds, peak RSS, and whether the shutdown was clean: every actor stopped and
the default ``shutdown_timeout`` never tripped (no "did not stop within"
warning, no cancellation).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import resource
import subprocess
import sys
import time

import trio

import trouper

__all__ = ["main", "measure"]


class Idle(trouper.Actor):
    """An actor that never gets a message."""


def measure(n: int, collector: bool) -> dict[str, float | int | bool]:
    """Spawn ``n`` idle actors, then leave the runtime; return the timings."""
    if not collector:
        gc.disable()
    result: dict[str, float | int | bool] = {"n": n, "gc": collector}

    async def main() -> None:
        slow: list[str] = []
        start = time.perf_counter()
        cpu = time.process_time()
        async with trouper.open_runtime() as rt:
            rt.events.listen(lambda event: slow.append(str(event)), kinds=[])
            for _ in range(n):
                await rt.spawn(Idle)
            result["spawn_s"] = time.perf_counter() - start
            result["spawn_cpu_s"] = time.process_time() - cpu
            result["alive"] = len(rt.root.children)
            start = time.perf_counter()
            cpu = time.process_time()
        result["shutdown_s"] = time.perf_counter() - start
        result["shutdown_cpu_s"] = time.process_time() - cpu
        result["left"] = len(rt.root.children)

    tripped: list[str] = []

    class _Trip(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "did not stop within" in record.getMessage():
                tripped.append(record.getMessage())

    handler = _Trip(logging.WARNING)
    logging.getLogger("trouper").addHandler(handler)
    try:
        trio.run(main)
    finally:
        logging.getLogger("trouper").removeHandler(handler)
    result["clean"] = not tripped and result["left"] == 0
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    """Run each size in a fresh process and print a table."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--gc", choices=["on", "off", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.sizes[0], args.gc == "on")))
        return 0
    modes = ["on", "off"] if args.gc == "both" else [args.gc]
    print(
        f"{'actors':>10} {'gc':>3} {'spawn s':>8} {'spawn/s':>9} {'shutdown s':>10} "
        f"{'stop/s':>9} {'peak RSS MB':>11} {'left':>5} {'clean':>6}"
    )
    for n in args.sizes:
        for mode in modes:
            out = subprocess.run(
                [sys.executable, "-m", "bench.scale", str(n), "--gc", mode, "--child"],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{n:>10,} {mode:>3} {row['spawn_s']:>8.2f} {n / row['spawn_s']:>9,.0f} "
                f"{row['shutdown_s']:>10.2f} {n / row['shutdown_s']:>9,.0f} "
                f"{row['peak_rss_mb']:>11,.0f} {row['left']:>5} "
                f"{'yes' if row['clean'] else 'NO':>6}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
