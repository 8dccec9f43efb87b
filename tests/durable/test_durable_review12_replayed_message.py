"""Review: a redelivered message is the message as stored, not the object a failed run changed.

A failed (or ``Retry``) delivery was redelivered from memory with the very
object its handler had been given: a handler that changed its message (a
dict it popped a key from) and then failed saw that changed message on every
later attempt, until it was dead-lettered, though the store held the message
as it was told (and a restart of the process would have delivered that).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import sqlite

import trouper
from trouper.durable import Delivery, Durable, GiveUp, Retry
from trouper.runtime import DeadLetter
from trouper.supervision import OneForOne

OPTIONS = Durable(backoff=(1.0,))


class Consumer(trouper.Actor):
    """Pops the token from each order it is given, then fails (or retries) its first delivery."""

    def __init__(self, seen: list[dict[str, object]], ending: str) -> None:
        self.seen = seen
        self.ending = ending

    @trouper.handler
    async def order(self, message: dict) -> None:  # type: ignore[type-arg]
        self.seen.append(dict(message))
        message.pop("token")
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        if delivery.attempt == 1:
            if self.ending == "retry":
                raise Retry(after=1.0)
            raise ValueError("downstream busy")


@pytest.mark.parametrize("ending", ["error", "retry"])
@pytest.mark.parametrize("fetched", [False, True])
async def test_a_redelivery_gives_the_handler_the_message_as_it_was_stored(
    tmp_path: Path, ending: str, fetched: bool
) -> None:
    """Handed over at its commit or fetched from the store, the second attempt sees the token."""
    seen: list[dict[str, object]] = []
    order = {"token": "t-1", "n": 1}
    async with trouper.open_runtime(
        store=sqlite(tmp_path / "s.db"), root_strategy=OneForOne(max_restarts=10, within=60)
    ) as rt:
        if fetched:
            await trouper.durable.durable_ref(rt, "consumer").tell(order)  # stored before
        ref = await rt.spawn(Consumer, seen, ending, name="consumer", mailbox=OPTIONS)
        if not fetched:
            await ref.tell(order)  # handed over as it commits
        await trio.sleep(5)
    assert seen == [{"token": "t-1", "n": 1}, {"token": "t-1", "n": 1}]


class Stuck(trouper.Actor):
    """Pops the token from its first order, then waits until a restart cuts it off."""

    def __init__(self, seen: list[dict[str, object]]) -> None:
        self.seen = seen

    @trouper.handler
    async def order(self, message: dict) -> None:  # type: ignore[type-arg]
        self.seen.append(dict(message))
        message.pop("token")
        if len(self.seen) == 1:
            await trio.sleep_forever()


async def test_a_message_a_restart_cut_off_comes_back_as_it_was_stored(tmp_path: Path) -> None:
    """The run cut off by the restart changed it; the next instance gets it whole."""
    seen: list[dict[str, object]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Stuck, seen, name="stuck", mailbox=OPTIONS, shutdown=1.0)
        await ref.tell({"token": "t-1", "n": 1})
        await trio.testing.wait_all_tasks_blocked()
        await rt.restart(ref)
        await trio.sleep(1)
    assert seen == [{"token": "t-1", "n": 1}, {"token": "t-1", "n": 1}]


class GivesUp(trouper.Actor):
    """Pops the token from each order, then gives it up."""

    @trouper.handler
    async def order(self, message: dict) -> None:  # type: ignore[type-arg]
        message.pop("token")
        raise GiveUp("no stock")


class Letters(trouper.Actor):
    """Keeps the runtime's dead letters."""

    def __init__(self, heard: list[DeadLetter]) -> None:
        self.heard = heard

    @trouper.handler
    async def letter(self, message: DeadLetter) -> None:
        self.heard.append(message)


async def test_the_dead_letter_posted_carries_the_message_as_it_was_stored(tmp_path: Path) -> None:
    """The store's dead letter and the runtime's ``DeadLetter`` hold the same message."""
    heard: list[DeadLetter] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.topics.subscribe(await rt.spawn(Letters, heard), "trouper.system.dead_letters")
        ref = await rt.spawn(GivesUp, name="gives-up", mailbox=OPTIONS)
        await ref.tell({"token": "t-1", "n": 1})
        await trio.sleep(1)
        (stored,) = [dead async for dead in rt.store.dead_letters("gives-up")]
    assert stored.message == {"token": "t-1", "n": 1}
    assert [letter.message for letter in heard] == [{"token": "t-1", "n": 1}]
