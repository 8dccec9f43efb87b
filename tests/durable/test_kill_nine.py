"""Kill -9 a durable pipeline ten times at random instants: nothing lost, nothing applied twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_ten_times_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    """Source -> orders -> billing, killed 10 times mid-run: each order applied once in store."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.durable_kill", "--kills", "10", "--seed", "3"),
            *("--json", "--dir", str(tmp_path), "--final-timeout", "60"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    figures = json.loads(done.stdout)
    assert done.returncode == 0, (figures, done.stderr)
    assert figures["finished"]
    assert (figures["lost"], figures["applied_twice_in_store"], figures["unknown_in_store"]) == (
        0,
        0,
        0,
    )
    assert (figures["left_in_mailboxes"], figures["dead_letters"]) == (0, 0)
    assert figures["integrity_check"] == "ok"
    # The kills landed while orders were being applied, not after the run was over.
    assert 0 < figures["applied_after_each_kill"][-1] < figures["orders"]
    # Effects outside the store are at least once: never missing, maybe repeated.
    assert figures["outside_missing"] == 0
    assert figures["outside_effects"] >= figures["orders"]
