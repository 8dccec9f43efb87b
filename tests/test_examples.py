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


def run_twice(path: Path) -> tuple[str, str]:
    """Run ``path`` twice side by side (most examples mostly wait); what each printed."""
    runs = [
        subprocess.Popen(
            [sys.executable, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    try:
        for run in runs:
            stdout, stderr = run.communicate(timeout=120)
            assert run.returncode == 0, stderr
            outputs.append(stdout)
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    return outputs[0], outputs[1]


def test_every_example_is_covered() -> None:
    """A new example gets a line here saying what it must show."""
    assert sorted(p.name for p in EXAMPLES) == sorted(SHOWS)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_deterministically(path: Path) -> None:
    """The example exits cleanly, shows its point, and prints the same output twice."""
    first, second = run_twice(path)
    assert SHOWS[path.name] in first
    assert second == first


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_short_and_documented(path: Path) -> None:
    """Under about 80 lines of code, with a module docstring and a __main__ guard."""
    source = path.read_text()
    assert source.startswith('"""')
    assert 'if __name__ == "__main__":' in source
    code_lines = [line for line in source.splitlines() if line.strip()]
    assert len(code_lines) <= 100, f"{path.name} has {len(code_lines)} non-blank lines"
