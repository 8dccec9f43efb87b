"""Smoke test of bench.durable_bench: every row, the floors and the lag run tiny and print."""

from __future__ import annotations

import re

from bench_support import run_bench

ROWS = (
    "sequential await tell, 1 sender",
    "100 actors telling concurrently",
    "ack + 1 staged send, 100 actors",
    "1 durable actor handling + ack",
    "handle + ack vs litequeue pop+done",
    "durable pool of 100 vs huey, 100 threads",
)


def test_every_row_and_floor_is_printed() -> None:
    """``--scale 0.01 --repeat 1`` prints a verdict per row, both round trips and the lag."""
    out = run_bench("bench.durable_bench", "--scale", "0.01", "--repeat", "1", "--quiet")
    verdicts = {
        name: re.findall(r" (PASS|MISS) ", line)
        for line in out.splitlines()
        for name in ROWS
        if line.startswith(name)
    }
    assert set(verdicts) == set(ROWS)
    assert all(len(found) == 1 for found in verdicts.values())
    # The rows measured against raw sqlite3 also show the same shape in raw Trio.
    raw_trio = {
        name: re.search(r" (?:PASS|MISS)\s+([\d,]+)\s+([\d.]+)\s", line)
        for line in out.splitlines()
        for name in ROWS[:4]
        if line.startswith(name)
    }
    assert all(found is not None and float(found[2]) > 0 for found in raw_trio.values()), out
    round_trips = re.findall(r"-> Trio \(.*\)\s+([\d.]+) us", out)
    assert len(round_trips) == 2
    assert all(float(value) > 0 for value in round_trips)
    assert len(re.findall(r"through a (?:thread|process), nothing else costing", out)) == 2
    assert re.search(r"in a child process, the caller blocked on it \(no Trio\): [\d,]+ msg/s", out)
    assert "event-loop lag, under 100 telling actors" in out
