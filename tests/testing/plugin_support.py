"""Helpers the plugin tests share."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run_pytest(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """Run pytest, as a user would, on ``source`` written to ``tmp_path/test_user.py``."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
