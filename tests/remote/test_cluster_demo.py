"""The cluster demo runs from the command line and shows what it exists to show."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "cluster" / "cluster_demo.py"


def test_the_cluster_demo_kills_a_node_and_the_others_carry_on() -> None:
    """Three nodes share the work; n2 is killed, seen gone, and n1 and n3 do the rest."""
    result = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "cluster: coordinator, n1, n2, n3",
        "first 30 jobs: all done, each once, by n1 and n2 and n3",
        "killed n2 (SIGKILL)",
        "n2's worker terminated: actor trouper://n2/worker is unreachable: "
        "node 'n2' sent no heartbeat for 1 s",
        "cluster: coordinator, n1, n3",
        "second 30 jobs: all done, each once, by n1 and n3",
    ]
    assert lines[6] == "what each node did:"
    counts = {}
    for line, heard in zip(lines[7:], ["hello, bye", "hello", "hello, bye"], strict=True):
        match = re.fullmatch(rf"  (n\d): (\d+) \+ (\d+) jobs, heard {heard}", line)
        assert match is not None, line
        counts[match[1]] = (int(match[2]), int(match[3]))
    assert sum(first for first, _ in counts.values()) == 30
    assert sum(second for _, second in counts.values()) == 30
    assert counts["n2"][1] == 0
