"""Smoke test of bench.remote_bench: every workload runs tiny on both sides and gets a row."""

from __future__ import annotations

from bench_support import listed_and_reported


def test_every_remote_workload_runs_and_gets_a_verdict() -> None:
    """``--quick --repeat 1`` prints one row per workload, in order, with its verdict."""
    names, rows = listed_and_reported("bench.remote_bench", ("PASS", "MISS", "info"))
    assert len(names) == 4
    assert rows == names
