"""Smoke test of the format measurement: it runs, every format round-trips, it prints a table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_codec_bench_runs_quick() -> None:
    """``python -m bench.codec_bench --quick`` prints a row per format and message."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.codec_bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("| small", "| large"))]
    assert len(rows) == 10
    assert any("trouper Codec.encode / decode" in row for row in rows)
