"""Dead-letter reasons, reviewed: writing one down never fails, whatever the error."""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable


class Unprintable(Exception):
    """An error whose ``str()`` raises (a user's class with a broken ``__str__``)."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


class Failing(trouper.Actor):
    """Fails every message with an error that cannot be turned into text."""

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        raise Unprintable


async def test_an_error_whose_str_raises_is_dead_lettered_not_a_crash(tmp_path: Path) -> None:
    """At max_deliveries such an error is dead-lettered with a reason that says so."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Failing, name="failing", mailbox=Durable(max_deliveries=1))
        await ref.tell(Charge("o-1", 1))
        await trio.sleep(1)
        (dead,) = [d async for d in rt.store.dead_letters("failing")]
    assert dead.reason == "Unprintable: <str() raised RuntimeError> (max_deliveries 1 reached)"
    assert dead.attempts == 1
