"""The pytest plugin, as a user gets it: installed, no conftest, no trio_mode."""

from __future__ import annotations

from pathlib import Path

from plugin_support import run_pytest

USER_TESTS = """
import attrs, pytest, trio, trouper

@attrs.frozen
class Ping:
    reply_to: trouper.ActorRef[object]

class Ponger(trouper.Actor):
    @trouper.handler
    async def ping(self, msg: Ping) -> None:
        await msg.reply_to.tell("pong")

async def test_runtime_and_probe_on_virtual_time(runtime, probe):
    p = probe()
    ref = await runtime.spawn(Ponger)
    await ref.tell(Ping(p))
    assert await p.expect("pong") == "pong"
    start = trio.current_time()
    await trio.sleep(3600)
    assert trio.current_time() - start == 3600

@pytest.mark.trouper(mailbox_size=2)
async def test_runtime_options_from_the_marker(runtime):
    ref = await runtime.spawn(Ponger)
    ref.tell_nowait(1)
    ref.tell_nowait(2)
    with pytest.raises(trouper.MailboxFull):
        ref.tell_nowait(3)

@pytest.mark.trouper(strict=True)
async def test_strict_fails_on_a_dead_letter(runtime):
    ref = await runtime.spawn(Ponger)
    await ref.tell("nobody handles a str")
    await trio.testing.wait_all_tasks_blocked()

async def test_relaxed_by_default(runtime):
    ref = await runtime.spawn(Ponger)
    await ref.tell("nobody handles a str")
"""


def test_plugin_works_from_an_install_with_no_conftest(tmp_path: Path) -> None:
    """The fixtures come from the entry point; strict mode fails what it should."""
    result = run_pytest(tmp_path, USER_TESTS)
    assert "1 failed, 3 passed" in result.stdout, result.stdout + result.stderr
    assert "FAILED test_user.py::test_strict_fails_on_a_dead_letter" in result.stdout
    assert "unexpected actor failures or dead letters (strict)" in result.stdout
    assert "unhandled message: 'nobody handles a str'" in result.stdout
