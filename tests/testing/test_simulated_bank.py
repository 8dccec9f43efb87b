"""The simulated bank: conserved across 200 seeds; the naive teller's bug found and replayed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trouper.testing import explore, run_simulation

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

import simulated_bank  # noqa: E402


def test_money_is_conserved_across_200_seeds_for_the_careful_teller() -> None:
    """Crashes and drops never lose or create money when steps are idempotent and confirmed."""
    report = explore(
        simulated_bank.bank(True),
        seeds=range(200),
        check=simulated_bank.conserved,
        faults=simulated_bank.FAULTS,
    )
    assert not report.failed, str(report)
    assert report.runs == 200


def test_explore_finds_the_naive_tellers_bug_and_the_seed_replays_it() -> None:
    """A dropped credit loses money; replaying the seed gives the identical trace."""
    report = explore(
        simulated_bank.bank(False),
        seeds=range(200),
        check=simulated_bank.conserved,
        faults=simulated_bank.FAULTS,
    )
    assert report.failure is not None
    assert isinstance(report.problem, AssertionError)
    assert str(report.problem).startswith("money not conserved")
    assert report.failure.trace.filter("fault", contains="drop Credit")
    replay = run_simulation(
        simulated_bank.bank(False), seed=report.failure.seed, faults=simulated_bank.FAULTS
    )
    assert replay.trace == report.failure.trace
    assert replay.value == report.failure.value


def _trace_in_a_fresh_process(seed: int, hash_seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "simulated_bank.py"), "--replay", str(seed)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return result.stdout


def _another_hash_seed() -> str:
    """A PYTHONHASHSEED that this interpreter was not started with (unset, its own is random)."""
    return "1" if os.environ.get("PYTHONHASHSEED") == "4242" else "4242"


@pytest.mark.parametrize("seed", [0, 7])
def test_the_same_seed_gives_the_same_trace_in_two_processes(seed: int) -> None:
    """A fresh interpreter with another hash seed prints the trace this one records."""
    printed = _trace_in_a_fresh_process(seed, _another_hash_seed())
    assert printed.count("\n") > 50
    expected = run_simulation(simulated_bank.bank(False), seed=seed, faults=simulated_bank.FAULTS)
    assert printed.rstrip("\n") == str(expected.trace)
