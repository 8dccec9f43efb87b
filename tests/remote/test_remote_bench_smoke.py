"""Smoke test of bench.remote_bench: every workload runs tiny on both sides and gets a row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.remote_bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_remote_workload_runs_and_gets_a_verdict() -> None:
    """``--quick --repeat 1`` prints one row per workload, in order, with its verdict."""
    names = [line.split(None, 1)[1] for line in bench("--list").splitlines()]
    table = bench("--quick", "--repeat", "1", "--quiet")
    rows = [line for line in table.splitlines() if line.endswith(("PASS", "MISS", "info"))]
    assert len(names) == 4
    assert [row.split("  ")[0].strip() for row in rows] == names
