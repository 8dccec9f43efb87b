"""Review 12: a durable balancing pool is a durable subscriber, refused what it cannot store."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
import trio

import trouper
from trouper.durable import Durable, SqliteStore
from trouper.routing import Balancing


@trouper.message("test.topics.review12.order")
@attrs.frozen
class Order:
    """A message the store knows."""

    number: int


class Worker(trouper.Actor):
    """Keeps the orders it takes."""

    def __init__(self, got: list[Order]) -> None:
        self.got = got

    @trouper.handler
    async def order(self, message: Order) -> None:
        self.got.append(message)


async def test_a_durable_pool_with_subject_is_refused_at_subscribe(tmp_path: Path) -> None:
    """Its shared mailbox cannot store a Published: refused, not a dead letter per publish."""
    got: list[Order] = []
    letters: list[trouper.DeadLetter] = []
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        rt.dead_letters.listen(letters.append)
        jobs = await rt.spawn_pool(
            Worker, 2, got, router=Balancing(), name="jobs", mailbox=Durable()
        )
        message = (
            "trouper://local/jobs has a durable mailbox, which stores only registered "
            "message types: subscribe it without with_subject=True (Published carries "
            "any message and cannot be stored)"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            rt.topics.subscribe(jobs, "orders.>", with_subject=True)
        assert len(rt.topics) == 0
        rt.topics.subscribe(jobs, "orders.>")
        assert await rt.topics.publish("orders.eu", Order(1)) == 1
        await trio.sleep(1)
    assert got == [Order(1)]
    assert letters == []


async def test_a_durable_pool_is_refused_the_system_topics(tmp_path: Path) -> None:
    """The runtime's reports cannot be stored in its shared mailbox either."""
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(
            Worker, 2, [], router=Balancing(), name="jobs", mailbox=Durable()
        )
        message = (
            "trouper://local/jobs has a durable mailbox, which stores only registered "
            "message types: the runtime's reports on 'trouper.system.>' cannot be stored; "
            "subscribe an actor with an in-memory mailbox to them"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            rt.topics.subscribe(jobs, "trouper.system.>")
        assert len(rt.topics) == 0


async def test_an_in_memory_balancing_pool_takes_published_wrappers() -> None:
    """Only a durable shared mailbox is refused: an in-memory one stores anything."""
    got: list[object] = []

    class Keeper(trouper.Actor):
        async def receive(self, message: object) -> None:
            got.append(message)

    async with trouper.open_runtime() as rt:
        jobs = await rt.spawn_pool(Keeper, 2, router=Balancing())
        rt.topics.subscribe(jobs, "orders.>", with_subject=True)
        assert await rt.topics.publish("orders.eu", Order(1)) == 1
        await trio.sleep(1)
    assert got == [trouper.topics.Published("orders.eu", Order(1))]
