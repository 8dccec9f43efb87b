"""Smoke test of ``python -m bench.aio_bench``: every row runs, tiny, and gives a result.

Speed is not asserted; only that each side handled the whole workload and the table has a
row per workload. It runs as a subprocess from the project root, as ``make bench`` would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench_support import run_bench

pytestmark = pytest.mark.real_clock


def test_every_row_runs_and_is_reported(tmp_path: Path) -> None:
    """``--quick --repeat 1``: each row has a positive rate on both sides and a table line."""
    results = tmp_path / "results.json"
    table = run_bench(
        "bench.aio_bench", "--quick", "--repeat", "1", "--quiet", "--json", str(results)
    )
    rows = json.loads(results.read_text())["rows"]
    assert [row["key"] for row in rows] == ["ask", "ask_many", "tell_nowait", "tell", "http"]
    for row in rows:
        assert row["baseline"] > 0, row["key"]
        assert row["aio"] > 0, row["key"]
        assert row["name"] in table
