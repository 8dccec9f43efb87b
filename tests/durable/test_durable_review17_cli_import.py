"""Review: ``inspect --import MODULE`` decodes the dead letters of the user's message types."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trouper.durable.__main__ import main as cli

# A user's module: it registers its message type as it is imported, and can leave a
# dead letter of it in a store (run in a subprocess: the tests' process never registers
# the type, so without --import it is unknown here too).
SHOP = """
import attrs
import trio

import trouper
from trouper.durable import Durable, GiveUp, SqliteStore


@trouper.message("test.durable.r17.order")
@attrs.frozen
class Order:
    item: str
    count: int


class Refuser(trouper.Actor):
    @trouper.handler
    async def order(self, message: Order) -> None:
        raise GiveUp("closed")


async def bury(path: str) -> None:
    async with trouper.open_runtime(store=SqliteStore(path, synchronous="normal")) as rt:
        shop = await rt.spawn(Refuser, name="shop", mailbox=Durable())
        await shop.tell(Order("tea", 2))
        await trio.sleep(1)
"""

BURY = (
    "import sys, trio, trio.testing, r17shop; "
    "trio.run(r17shop.bury, sys.argv[1], clock=trio.testing.MockClock(autojump_threshold=0))"
)

NOT_REGISTERED = "no message type is registered as 'test.durable.r17.order' in this process"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store holding one dead ``Order`` of the module ``r17shop`` in ``tmp_path``."""
    (tmp_path / "r17shop.py").write_text(SHOP)
    path = tmp_path / "shop.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    subprocess.run(
        [sys.executable, "-c", BURY, str(path)], env=env, check=True, timeout=60, cwd=tmp_path
    )
    return path


def _inspect(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "trouper.durable", "inspect", *args],
        capture_output=True,
        check=True,
        timeout=60,
        cwd=cwd,
    )
    assert done.stderr == b""
    return done.stdout.decode()


def test_an_imported_modules_message_shows_decoded(tmp_path: Path, store: Path) -> None:
    """With ``--import`` of the module (found in the current directory) the message decodes."""
    text = _inspect(tmp_path, "--import", "r17shop", str(store))
    assert "  #1 shop test.durable.r17.order attempts=1: gave up: closed\n" in text
    assert "not decoded" not in text
    (dead,) = json.loads(_inspect(tmp_path, "--json", "--import", "r17shop", str(store)))[
        "dead_letters"
    ]
    assert (dead["message"], dead["decode_error"]) == ("Order(item='tea', count=2)", None)


def test_without_import_the_reason_says_to_import(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A type registered by no module imported: the reason advises ``--import``, text and JSON."""
    reason = f"{NOT_REGISTERED} (--import the module that registers it to see it decoded)"
    assert cli(["inspect", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    order = lines.index("  #1 shop test.durable.r17.order attempts=1: gave up: closed")
    assert lines[order + 1] == f"    not decoded: {reason}"
    assert cli(["inspect", "--json", str(store)]) == 0
    (dead,) = json.loads(capsys.readouterr().out)["dead_letters"]
    assert (dead["message"], dead["decode_error"]) == (None, reason)


def test_an_import_that_registers_nothing_says_so_and_prints_aside(
    tmp_path: Path,
    store: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Modules imported that do not register the type: said; what they print goes to stderr."""
    (tmp_path / "r17chatty.py").write_text("print('loading the chatty module')\n")
    (tmp_path / "r17quiet.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["inspect", "--json", "--import", "r17chatty", "--import", "r17quiet", str(store)]
    assert cli(args) == 0
    captured = capsys.readouterr()
    (dead,) = json.loads(captured.out)["dead_letters"]  # the module's print is not in it
    assert dead["decode_error"] == (
        f"{NOT_REGISTERED} (no module given to --import registers it: --import the one that does)"
    )
    assert captured.err == "loading the chatty module\n"


@pytest.mark.parametrize(
    ("module", "source", "problem"),
    [
        (
            "r17_no_such_module",
            None,
            "ModuleNotFoundError: No module named 'r17_no_such_module'",
        ),
        ("r17raises", "raise ValueError('no config here')\n", "ValueError: no config here"),
        (
            "r17syntax",
            "def broken(:\n",
            "SyntaxError: invalid syntax (r17syntax.py, line 1)",
        ),
        ("r17exits", "import sys\nsys.exit(3)\n", "SystemExit: 3"),
    ],
)
def test_a_module_that_does_not_import_is_a_usage_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    source: str | None,
    problem: str,
) -> None:
    """Missing, raising, broken or exiting as it loads: status 2, the module and why, no trace."""
    if source is not None:
        (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli(["inspect", "--import", module, str(tmp_path / "not-read.db")]) == 2
    assert capsys.readouterr() == ("", f"error: --import '{module}': cannot import it: {problem}\n")


def test_a_file_name_given_to_import_is_told_to_be_a_module_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--import shop/messages.py``: the error says to give a dotted module name."""
    assert cli(["inspect", "--import", "shop/messages.py", "shop.db"]) == 2
    assert capsys.readouterr().err == (
        "error: --import 'shop/messages.py': cannot import it: ModuleNotFoundError: "
        "No module named 'shop/messages' (give a module's dotted name, such as shop.messages, "
        "not a file)\n"
    )


def test_the_command_line_as_run_gives_no_traceback(tmp_path: Path) -> None:
    """``python -m trouper.durable inspect --import`` of a broken module: status 2, one line."""
    (tmp_path / "r17broken.py").write_text("import r17_not_there\n")
    done = subprocess.run(
        [sys.executable, "-m", "trouper.durable", "inspect", "--import", "r17broken", "x.db"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stdout, done.stderr.decode()) == (
        2,
        b"",
        "error: --import 'r17broken': cannot import it: "
        "ModuleNotFoundError: No module named 'r17_not_there'\n",
    )
