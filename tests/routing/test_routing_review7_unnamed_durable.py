"""Review: a balancing pool spawned without a name keeps no durable mailbox under an automatic one.

``rt.spawn_pool(W, 2, router=Balancing(), mailbox=Durable())`` without
``name=`` opened its shared durable mailbox under the pool's automatic name
(``PoolFactory-1``), which depends on what was spawned before it: the next
run's pool could get another one (its stored messages left behind for good)
or another pool this one's. A durable mailbox needs a chosen name, as for
``spawn``: the pool is refused, and nothing is stored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import attrs
import pytest

import trouper
from trouper import Actor, handler
from trouper.durable import Durable, SqliteStore
from trouper.routing import Balancing
from trouper.runtime.lowlevel import MailboxFactory

REFUSAL = re.escape(
    "a durable mailbox needs a chosen name: spawn the actor with name=... "
    "(the name is its mailbox's identity in the store; an automatic one changes "
    "from one run to the next)"
)


@trouper.message("test.routing.review7.job")
@attrs.frozen
class Job:
    id: int


class Worker(Actor):
    @handler
    async def job(self, message: Job) -> int:
        return message.id


class DurableWorker(Worker):
    """Its class says its mailbox is durable."""

    default_mailbox: ClassVar[MailboxFactory | None] = Durable()


async def test_an_unnamed_balancing_pool_with_a_durable_mailbox_is_refused(tmp_path: Path) -> None:
    """``mailbox=Durable()`` without ``name=``: ``ValueError``, no stored mailbox, no pool."""
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        with pytest.raises(ValueError, match=rf"^{REFUSAL}$"):
            await rt.spawn_pool(Worker, 2, router=Balancing(), mailbox=Durable())
        assert await rt.store.mailbox_statistics() == []
        assert rt.tree().actors == ()


async def test_an_unnamed_balancing_pool_of_a_durable_class_is_refused(tmp_path: Path) -> None:
    """The class's ``default_mailbox = Durable()`` without ``name=``: refused the same way."""
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        with pytest.raises(ValueError, match=rf"^{REFUSAL}$"):
            await rt.spawn_pool(DurableWorker, 2, router=Balancing())
        assert await rt.store.mailbox_statistics() == []


async def test_a_named_balancing_pool_keeps_its_durable_mailbox_under_its_name(
    tmp_path: Path,
) -> None:
    """With ``name=``, the shared mailbox is stored under that name."""
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(Worker, 2, router=Balancing(), mailbox=Durable(), name="jobs")
        assert await jobs.ask(Job(1)) == 1
        assert [box.name for box in await rt.store.mailbox_statistics()] == ["jobs"]
