"""Review: a durable_ref's tell_nowait whose commit fails becomes a dead letter, not a log line."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import durable_ref
from trouper.errors import StoreFailed
from trouper.runtime import DeadLetter


class Listener(trouper.Actor):
    """Keeps the runtime's dead letters."""

    def __init__(self, heard: list[DeadLetter]) -> None:
        self.heard = heard

    @trouper.handler
    async def letter(self, message: DeadLetter) -> None:
        self.heard.append(message)


async def test_a_tell_nowait_lost_with_a_failed_commit_is_a_dead_letter(tmp_path: Path) -> None:
    """SQLite: the commit of a staged tell to a mailbox hosted nowhere fails; it is posted dead.

    With no durable actor hosted here, the store's failure reached no one:
    the message was lost without a word (its ``tell_nowait`` had returned).
    """
    heard: list[DeadLetter] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db", max_size=65536)) as rt:
        rt.topics.subscribe(await rt.spawn(Listener, heard), "trouper.system.dead_letters")
        durable_ref(rt, "later").tell_nowait(Charge("x" * 200_000, 1))
        with pytest.raises(StoreFailed):
            await rt.store.flush()
        await trio.testing.wait_all_tasks_blocked()
    (letter,) = heard
    assert letter.message == Charge("x" * 200_000, 1)
    assert letter.recipient == trouper.Address(rt.node, "/later")
    assert letter.reason == "not stored: OperationalError: database or disk is full"
    assert isinstance(letter.error, StoreFailed)
