"""Review: the ``runtime`` fixture's leak check sees one leaked task, not only two or more."""

from __future__ import annotations

from pathlib import Path

from plugin_support import run_pytest

USER_TESTS = """
import pytest, trio, trouper

class Leaky(trouper.Actor):
    @trouper.handler
    async def leak(self, msg: int) -> None:
        for _ in range(msg):
            trio.lowlevel.spawn_system_task(trio.sleep_forever)

@pytest.fixture
async def other():
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep_forever)
        yield "other"
        nursery.cancel_scope.cancel()

async def test_leaks_one(runtime):
    await (await runtime.spawn(Leaky)).ask(1)

async def test_leaks_two(runtime):
    await (await runtime.spawn(Leaky)).ask(2)

async def test_leaks_none(runtime):
    await (await runtime.spawn(Leaky)).ask(0)

async def test_leaks_none_beside_a_fixture_with_tasks(runtime, other):
    await (await runtime.spawn(Leaky)).ask(0)
"""


def test_a_single_task_left_running_after_the_runtime_stopped_fails_the_test(
    tmp_path: Path,
) -> None:
    """The test's own task ending must not hide one leaked task from the count."""
    result = run_pytest(tmp_path, USER_TESTS)
    output = result.stdout + result.stderr
    assert "2 failed, 2 passed" in result.stdout, output
    assert "FAILED test_user.py::test_leaks_one - 1 task(s)" in result.stdout, output
    assert "FAILED test_user.py::test_leaks_two - 2 task(s)" in result.stdout, output
