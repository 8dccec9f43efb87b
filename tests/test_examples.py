"""Every example runs as a program, prints the same thing each time, and says what it shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))

# A line each example must print: the behaviour it exists to show.
SHOWS = {
    "bank_demo.py": "bob's balance after the restart -> 50",
    "supervision_tree.py": "/service/workers         gave_up",
    "pubsub_ticker.py": "prices.",
    "work_queue.py": "total 40 of 40 jobs, in 10s of virtual time",
    "simulated_bank.py": "explored 200 seeds: every run passed the check",
    "observe_demo.py": "/bank/bob            Account    running  restarts 1",
    "asyncio_web.py": "GET /visit/crash -> 500",
    "durable_orders.py": "charged after a restart: {'o-1': 30, 'o-3': 2000}",
    "threads_portal.py": "40 adds from 8 threads -> [202]",
}


def _run(path: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_example_is_covered() -> None:
    """A new example gets a line here saying what it must show."""
    assert sorted(p.name for p in EXAMPLES) == sorted(SHOWS)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_deterministically(path: Path) -> None:
    """The example exits cleanly, shows its point, and prints the same output twice."""
    first = _run(path)
    assert SHOWS[path.name] in first
    assert _run(path) == first


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_short_and_documented(path: Path) -> None:
    """Under about 80 lines of code, with a module docstring and a __main__ guard."""
    source = path.read_text()
    assert source.startswith('"""')
    assert 'if __name__ == "__main__":' in source
    code_lines = [line for line in source.splitlines() if line.strip()]
    assert len(code_lines) <= 100, f"{path.name} has {len(code_lines)} non-blank lines"
