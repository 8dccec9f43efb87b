"""Review: a durable handler that returns ``GiveUp``/``Retry`` instead of raising it fails.

Returned, the exception reached nobody and the message was acknowledged as
handled: no dead letter, no redelivery, the handler's decision lost. It is now
a failure of the handler that says why (a ``TypeError``), retried and
dead-lettered as any other.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
from durable_support import sqlite

import trouper
from trouper.durable import Durable, GiveUp, Retry


@trouper.message("review14.returned-job")
@attrs.frozen
class ReturnedJob:
    n: int


class Returner(trouper.Actor):
    @trouper.handler
    async def job(self, message: ReturnedJob) -> object:
        return GiveUp("nope") if message.n == 1 else Retry(after=1.0)

    @trouper.handler
    async def ask_me(self, message: str) -> object:
        return ValueError(message)  # a reply value to an ask: given to the asker as it is


@pytest.mark.parametrize("n", [1, 2])
async def test_a_returned_decision_fails_the_handler_and_is_dead_lettered(
    tmp_path: Path, n: int
) -> None:
    """With ``max_deliveries=1`` its one failure dead-letters it, the reason saying why."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Returner, name="r", mailbox=Durable(max_deliveries=1))
        await ref.tell(ReturnedJob(n))
        await trio.sleep(5)
        dead = [record async for record in rt.store.dead_letters("r")]
    assert [record.message for record in dead] == [ReturnedJob(n)]
    assert "instead of raising it" in dead[0].reason


async def test_an_exception_returned_to_an_ask_is_its_reply(tmp_path: Path) -> None:
    """An asker gets the value the handler returned, an exception object included."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Returner, name="r", mailbox=Durable())
        reply = await ref.ask("why")
    assert isinstance(reply, ValueError)
    assert reply.args == ("why",)
