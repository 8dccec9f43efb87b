"""Review 26: strict mode counts what the test did, not what the fixture's own shutdown drops."""

from __future__ import annotations

from pathlib import Path

from plugin_support import run_pytest

USER_TESTS = """
import pytest, trio, trouper

class Slow(trouper.Actor):
    @trouper.handler
    async def work(self, msg: int) -> None:
        await trio.sleep(10)

class BadStop(trouper.Actor):
    async def on_stop(self) -> None:
        raise ValueError("on_stop boom")

    @trouper.handler
    async def work(self, msg: int) -> None:
        pass

@pytest.mark.trouper(strict=True)
async def test_messages_still_queued_at_the_end(runtime):
    ref = await runtime.spawn(Slow)
    for n in range(3):
        await ref.tell(n)
    await trio.testing.wait_all_tasks_blocked()

@pytest.mark.trouper(strict=True)
async def test_an_on_stop_that_raises(runtime):
    await runtime.spawn(BadStop)

@pytest.mark.trouper(strict=True)
async def test_a_dead_letter_of_its_own(runtime):
    ref = await runtime.spawn(Slow)
    await ref.tell("nobody handles a str")
    await trio.testing.wait_all_tasks_blocked()
"""


def test_strict_ignores_the_shutdowns_dead_letters_but_not_its_failures(tmp_path: Path) -> None:
    """Queued messages dropped by the closing runtime pass; an ``on_stop`` raising still fails."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -rfP\n")
    result = run_pytest(tmp_path, USER_TESTS)
    output = result.stdout + result.stderr
    assert "2 failed, 1 passed" in result.stdout, output
    assert "FAILED test_user.py::test_an_on_stop_that_raises" in result.stdout, output
    assert "FAILED test_user.py::test_a_dead_letter_of_its_own" in result.stdout, output
    assert "failed while the runtime stopped" in output, output
    assert "on_stop boom" in output, output
    assert "unhandled message: 'nobody handles a str'" in output, output
    # The shutdown's dead letters are reported beside the passing test, without failing it.
    assert "dead letters of the runtime's shutdown (not counted by strict)" in output, output
    assert "dead letter to trouper://local/Slow-1: actor stopped: 2" in output, output
