"""Smoke test of the benchmark suite: every workload runs tiny, on both sides, in one go.

Speed is not asserted; only that each workload runs, handles the expected
number of messages (or actors) on both sides, and gives a table row. The
suite calls ``trio.run`` itself, so it runs as ``python -m bench`` in a
subprocess, from the project root.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench_support import run_benches

QuickRun = tuple[str, dict[str, Any]]
"""The printed table and the JSON results of one ``--quick`` run."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, QuickRun]:
    """What ``bench --list`` printed, and a ``--quick`` run beside it."""
    path = tmp_path_factory.mktemp("bench") / "results.json"
    listing, table = run_benches(
        ("bench", "--list"),
        ("bench", "--quick", "--repeat", "1", "--quiet", "--json", str(path)),
        timeout=60,
    )
    results: dict[str, Any] = json.loads(path.read_text())
    return listing, (table, results)


@pytest.fixture(scope="module")
def keys(runs: tuple[str, QuickRun]) -> list[str]:
    return [line.split()[0] for line in runs[0].splitlines()]


@pytest.fixture(scope="module")
def quick_run(runs: tuple[str, QuickRun]) -> QuickRun:
    return runs[1]


def test_every_workload_gives_a_result(keys: list[str], quick_run: QuickRun) -> None:
    """Each registered workload has a result row, in registry order."""
    _, results = quick_run
    assert keys
    assert [row["key"] for row in results["rows"]] == keys


def test_both_sides_handle_the_whole_workload(quick_run: QuickRun) -> None:
    """Each side of each workload counted exactly ``n`` messages, round trips or actors."""
    _, results = quick_run
    for row in results["rows"]:
        for side in ("raw", "trouper"):
            assert [s["handled"] for s in row["samples"][side]] == [row["n"]], (row["key"], side)


def test_rates_are_positive(quick_run: QuickRun) -> None:
    """Every rate workload measured a positive rate on both sides."""
    _, results = quick_run
    for row in results["rows"]:
        if row["unit"].endswith("/s"):
            assert row["raw"] > 0
            assert row["trouper"] > 0


def test_table_has_a_row_per_workload(quick_run: QuickRun) -> None:
    """The printed table names every workload with a verdict."""
    table, results = quick_run
    for row in results["rows"]:
        line = next(line for line in table.splitlines() if line.startswith(row["name"]))
        assert line.split()[-1] in ("PASS", "MISS", "info")
