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
    (out,) = run_benches((module, *args), timeout=timeout)
    return out


def run_benches(*commands: tuple[str, ...], timeout: float = 120) -> list[str]:
    """Run each ``(module, *args)`` as ``run_bench`` does, side by side; what each printed.

    Each suite mostly starts processes and waits on them, so together they
    take about as long as the longest.
    """
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", *command],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = []
    try:
        for run in runs:
            stdout, stderr = run.communicate(timeout=timeout)
            assert run.returncode == 0, stderr
            outputs.append(stdout)
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    return outputs


def listed_and_reported(module: str, verdicts: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The workloads ``module --list`` names, and the rows a tiny run prints with a verdict.

    The run is ``--quick --repeat 1 --quiet`` (beside the listing); a row is
    one table line ending in one of ``verdicts``, given by its workload's name
    (its first column).
    """
    listing, table = run_benches(
        (module, "--list"), (module, "--quick", "--repeat", "1", "--quiet")
    )
    names = [line.split(None, 1)[1] for line in listing.splitlines()]
    rows = [line.split("  ")[0].strip() for line in table.splitlines() if line.endswith(verdicts)]
    return names, rows
