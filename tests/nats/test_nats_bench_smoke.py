"""Smoke test of bench.nats_client: every workload runs tiny on both sides and gets a row."""

from __future__ import annotations

from bench_support import listed_and_reported


def test_every_workload_runs_and_gets_a_verdict() -> None:
    """``--quick --repeat 1`` prints one PASS/MISS row per workload, in order."""
    names, rows = listed_and_reported("bench.nats_client", ("PASS", "MISS"))
    assert len(names) == 7
    assert rows == names
