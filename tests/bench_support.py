"""Running a benchmark as ``python -m`` from the project root, for the benchmarks' smoke tests.

The suites call ``trio.run`` themselves, so each smoke test runs its suite in a
subprocess, as ``make bench`` would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The project root, where ``bench`` is importable."""


def run_bench(module: str, *args: str, timeout: float = 120) -> str:
    """Run ``python -m module *args`` from the project root and return what it printed.

    Fails the test (showing the suite's stderr) unless the suite exits with 0;
    ``timeout`` bounds the run in seconds (``subprocess.TimeoutExpired``).
    """
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def listed_and_reported(module: str, verdicts: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The workloads ``module --list`` names, and the rows a tiny run prints with a verdict.

    The run is ``--quick --repeat 1 --quiet``; a row is one table line ending
    in one of ``verdicts``, given by its workload's name (its first column).
    """
    names = [line.split(None, 1)[1] for line in run_bench(module, "--list").splitlines()]
    table = run_bench(module, "--quick", "--repeat", "1", "--quiet")
    rows = [line.split("  ")[0].strip() for line in table.splitlines() if line.endswith(verdicts)]
    return names, rows
