"""Smoke test of the format measurement: it runs, every format round-trips, it prints a table."""

from __future__ import annotations

from bench_support import run_bench


def test_codec_bench_runs_quick() -> None:
    """``python -m bench.codec_bench --quick`` prints a row per format and message."""
    table = run_bench("bench.codec_bench", "--quick", timeout=60)
    rows = [line for line in table.splitlines() if line.startswith(("| small", "| large"))]
    assert len(rows) == 10
    assert any("trouper Codec.encode / decode" in row for row in rows)
