"""Review 25: the command line's redrive and discard check ids without decoding any message."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
from durable_support import make_store
from test_dead_letter_queue import bury

import trouper
from trouper.durable.__main__ import main as cli

# How many times a ``Watched`` was built (decoded); a user's class can do anything as it is.
BUILT: list[str] = []


def _count(_instance: object, _attribute: object, value: str) -> None:
    BUILT.append(value)


@trouper.message("test.durable.review25.watched")
@attrs.frozen
class Watched:
    """A message whose decoding is seen (its validator runs on each one built)."""

    text: str = attrs.field(validator=_count)


async def _bury_watched(path: Path, count: int) -> None:
    """Leave ``count`` dead ``Watched`` letters in mailbox ``orders`` (default codec)."""

    class Refuser(trouper.Actor):
        @trouper.handler
        async def watched(self, message: Watched) -> None:
            raise trouper.durable.GiveUp("no")

    async with trouper.open_runtime(store=make_store(path)) as rt:
        ref = await rt.spawn(Refuser, name="orders", mailbox=trouper.durable.Durable())
        for n in range(count):
            await ref.tell(Watched(f"w{n}"))
        await trio.sleep(1)


def _dead_ids(path: Path) -> list[int]:
    async def run() -> list[int]:
        async with make_store(path) as store:
            return [d.id async for d in store.dead_letters()]

    return trio.run(run)


def _bury_text(path: Path, mailbox: str, *texts: str) -> None:
    async def run() -> None:
        async with make_store(path) as store:
            await bury(store, mailbox, *texts)

    trio.run(run)


@pytest.mark.parametrize("command", ["redrive", "discard"])
def test_changing_dead_letters_by_id_decodes_none_of_them(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ids are checked by id alone: no payload of the mailbox is decoded (user code not run)."""
    path = tmp_path / "shop.db"
    trio.run(_bury_watched, path, 3, clock=trio.testing.MockClock(autojump_threshold=0))
    ids = _dead_ids(path)
    assert len(ids) == 3
    BUILT.clear()
    assert cli([command, str(path), "orders", "--id", str(ids[1])]) == 0
    assert BUILT == []
    assert "1 dead letter of 'orders'" in capsys.readouterr().out
    assert _dead_ids(path) == [ids[0], ids[2]]


@pytest.mark.parametrize("command", ["redrive", "discard"])
def test_an_undecodable_dead_letter_is_changed_by_id(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead letter of a type no class is registered under is redriven or discarded by id."""
    path = tmp_path / "shop.db"
    _bury_text(path, "orders", "a", "b")  # type "str" of the tests' codec: unknown here
    a, b = _dead_ids(path)
    assert cli([command, str(path), "orders", "--id", str(a)]) == 0
    assert _dead_ids(path) == [b]


@pytest.mark.parametrize("command", ["redrive", "discard"])
def test_one_missing_id_changes_nothing(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With one id not a dead letter of the mailbox (another's, or none), none is changed."""
    path = tmp_path / "shop.db"
    _bury_text(path, "orders", "a", "b")
    _bury_text(path, "billing", "c")
    a, b, c = _dead_ids(path)
    assert cli([command, str(path), "orders", "--id", str(a), "--id", str(c), "--id", "999"]) == 1
    missing = ", ".join(f"#{i}" for i in sorted([c, 999]))
    assert capsys.readouterr().err == (
        f"error: store '{path}': no dead letter {missing} in mailbox 'orders' (nothing changed)\n"
    )
    assert _dead_ids(path) == [a, b, c]
