"""Review: a pool whose members each have a mailbox refuses their class's ``default_mailbox``.

A ``RoundRobin``, ``ConsistentHash`` or ``Broadcast`` pool of a class whose
``default_mailbox`` is ``Durable()`` started, then failed with ``StartFailed``
saying "spawn the actor with name=...", although the pool had one: a member
has no name of its own, and a member's mailbox is emptied into the others
when the pool shrinks (stored messages would be taken out of the store).
It is now refused before anything starts, saying what to do instead.
"""

from __future__ import annotations

import re
from typing import ClassVar

import attrs
import pytest

import trouper
from trouper import Actor, ChildSpec, handler
from trouper.durable import Durable
from trouper.routing import Broadcast, ConsistentHash, RoundRobin, Router, pool
from trouper.runtime.lowlevel import MailboxFactory


@attrs.frozen
class Job:
    id: int


class DurableWorker(Actor):
    """Its class says its mailbox is durable."""

    default_mailbox: ClassVar[MailboxFactory | None] = Durable()

    @handler
    async def job(self, message: Job) -> int:
        return message.id


def _refusal(router_name: str) -> str:
    return re.escape(
        "DurableWorker.default_mailbox cannot be the mailbox of each member of a "
        f"{router_name}() pool (a member has no name of its own, and its queued "
        "messages move to the other members when the pool shrinks): use "
        "router=Balancing() with name=... (the members then share one mailbox of that "
        "kind, kept under the pool's name), or pool a subclass whose default_mailbox "
        "is None (each member's mailbox in memory)"
    )


ROUTERS = [
    pytest.param(RoundRobin(), "RoundRobin", id="round-robin"),
    pytest.param(ConsistentHash(lambda message: message), "ConsistentHash", id="hash"),
    pytest.param(Broadcast(), "Broadcast", id="broadcast"),
]


@pytest.mark.parametrize(("router", "router_name"), ROUTERS)
async def test_spawn_pool_refuses_a_members_class_default_mailbox_before_starting(
    router: Router, router_name: str
) -> None:
    """``spawn_pool`` raises a ``ValueError`` saying what to do; no pool is left behind."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=rf"^{_refusal(router_name)}$"):
            await rt.spawn_pool(DurableWorker, 2, router=router, name="jobs")
        assert rt.lookup("jobs") is None


def test_a_pool_description_refuses_a_members_class_default_mailbox() -> None:
    """``pool(...)`` for a ``ChildSpec`` refuses it too, when the spec is written."""
    with pytest.raises(ValueError, match=rf"^{_refusal('RoundRobin')}$"):
        ChildSpec("jobs", pool(DurableWorker, 2))


class InMemoryWorker(DurableWorker):
    """What the refusal suggests: the same handlers, members in memory."""

    default_mailbox = None


async def test_a_subclass_without_default_mailbox_pools_round_robin() -> None:
    """The suggested subclass runs as a round-robin pool."""
    async with trouper.open_runtime() as rt:
        jobs = await rt.spawn_pool(InMemoryWorker, 2, name="jobs")
        assert [await jobs.ask(Job(n)) for n in range(3)] == [0, 1, 2]
