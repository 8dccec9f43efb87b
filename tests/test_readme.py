"""The README's first example runs as written (it is the contract)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_as_written(tmp_path: Path) -> None:
    """The first Python block of the README is a complete program that exits cleanly."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    program = tmp_path / "readme_example.py"
    program.write_text(blocks[0])
    result = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_readme_asyncio_example_runs_as_written(tmp_path: Path) -> None:
    """The asyncio block runs on the first block's ``Account``, under ``asyncio.run``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (asyncio_block,) = [block for block in blocks if "asyncio.run(main())" in block]
    program = tmp_path / "readme_asyncio_example.py"
    program.write_text(blocks[0] + "\n\n" + asyncio_block)
    result = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_readme_gives_the_two_setup_commands() -> None:
    """``make demo`` and ``make test`` are in the README, and CI runs the test command."""
    text = README.read_text()
    assert "`make demo`" in text
    assert "`make test`" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci
