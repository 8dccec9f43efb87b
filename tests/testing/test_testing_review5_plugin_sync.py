"""Review 5: a synchronous test that asks for ``runtime`` or ``probe`` is told to be async."""

from __future__ import annotations

from pathlib import Path

from plugin_support import run_pytest

USER_TESTS = """
def test_sync_runtime(runtime):
    pass

def test_sync_probe(probe):
    pass

async def test_async_probe(probe):
    assert probe().address.path == "/probe/1"
"""


def test_a_sync_test_using_the_fixtures_errors_saying_so(tmp_path: Path) -> None:
    """Each says why; the second was a bare AssertionError from pytest's fixture machinery."""
    result = run_pytest(tmp_path, USER_TESTS)
    output = result.stdout + result.stderr
    assert "1 passed, 2 errors" in result.stdout, output
    for name, fixture in (("test_sync_runtime", "runtime"), ("test_sync_probe", "probe")):
        assert f"ERROR test_user.py::{name} - Failed: {name} uses" in result.stdout, output
        assert (
            f"\n{name} uses trouper's {fixture} fixture, which runs on Trio: "
            "make it an async test (async def)\n"
        ) in result.stdout, output
