"""Review: a ``trouper`` marker the plugin cannot read fails its test with the reason."""

from __future__ import annotations

from pathlib import Path

from plugin_support import run_pytest

USER_TESTS = """
import pytest

@pytest.mark.trouper(strict="no")
async def test_strict_as_text(runtime):
    pass

@pytest.mark.trouper(True)
async def test_positional(runtime):
    pass

@pytest.mark.trouper(strict=False)
async def test_strict_false(runtime):
    assert runtime.node
"""


def test_a_marker_with_strict_not_a_bool_or_with_positional_arguments_fails(
    tmp_path: Path,
) -> None:
    """``strict="no"`` would be true, ``trouper(True)`` ignored: both fail, saying why."""
    result = run_pytest(tmp_path, USER_TESTS)
    output = result.stdout + result.stderr
    assert "2 failed, 1 passed" in result.stdout, output
    assert "FAILED test_user.py::test_strict_as_text - trouper marker" in result.stdout, output
    assert "FAILED test_user.py::test_positional - trouper marker" in result.stdout, output
    assert "trouper marker: strict must be True or False, got 'no'" in output, output
    assert (
        "trouper marker takes keywords only (strict=..., open_runtime options), got (True,)"
    ) in output, output
