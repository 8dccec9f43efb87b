"""Review 8: the fixtures' leak check ends on a task that never waits, and says whose a task is."""

from __future__ import annotations

from pathlib import Path

from plugin_support import run_pytest

USER_TESTS = """
import pytest, trio, trouper

async def spin_forever():
    while True:
        await trio.lowlevel.checkpoint()

class Spinner(trouper.Actor):
    @trouper.handler
    async def leak(self, msg: int) -> None:
        trio.lowlevel.spawn_system_task(spin_forever, name="actor-spinner")

class Sleeper(trouper.Actor):
    @trouper.handler
    async def leak(self, msg: int) -> None:
        trio.lowlevel.spawn_system_task(trio.sleep_forever, name="actor-sleeper")

async def test_a_spinning_task_of_the_test(runtime):
    trio.lowlevel.spawn_system_task(spin_forever, name="test-spinner")

async def test_a_spinning_task_of_an_actor(runtime):
    await (await runtime.spawn(Spinner)).ask(1)

async def test_a_waiting_task_of_the_test(runtime):
    trio.lowlevel.spawn_system_task(trio.sleep_forever, name="test-sleeper")

async def test_a_waiting_task_of_an_actor(runtime):
    await (await runtime.spawn(Sleeper)).ask(1)

async def test_a_spinning_task_beside_a_probe(probe):
    probe("client")
    trio.lowlevel.spawn_system_task(spin_forever, name="probe-spinner")
"""


def report_of(output: str, task: str) -> str:
    """The one failure report that names ``task``."""
    lines = [line for line in output.splitlines() if "Failed: " in line and f"{task!r}" in line]
    assert len(lines) == 1, output
    return lines[0]


def test_leaked_tasks_fail_the_test_naming_each_task_and_whose_it_is(tmp_path: Path) -> None:
    """A task spinning on checkpoints fails its test (no hang); each report names task and owner."""
    result = run_pytest(tmp_path, USER_TESTS)
    output = result.stdout + result.stderr
    assert "5 failed in" in result.stdout, output
    for task in ("test-spinner", "test-sleeper", "probe-spinner"):
        line = report_of(output, task)
        assert "1 task(s) still run after the runtime stopped" in line, output
        assert "started by the test" in line, output
    for task in ("actor-spinner", "actor-sleeper"):
        line = report_of(output, task)
        assert "1 task(s) still run after the runtime stopped" in line, output
        assert "started by the runtime, in its task" in line, output
    for task in ("test-spinner", "actor-spinner", "probe-spinner"):
        assert "it never waits" in report_of(output, task), output
    for task in ("test-sleeper", "actor-sleeper"):
        assert "it never waits" not in report_of(output, task), output
