"""Review: a pool's endpoint says, typed, whether the mailbox its members share is full.

The simulation's waits for room found a balancing pool's shared mailbox by
looking for any attribute named ``shared`` on a ref's endpoint; it now asks
``SharingEndpoint.shared_mailbox_full()``.
"""

from __future__ import annotations

import attrs
import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.routing import Balancing, Broadcast, ConsistentHash, RoundRobin, Router
from trouper.runtime.lowlevel import Cell, SharingEndpoint


@attrs.frozen
class Hold:
    """Wait until the event is set."""

    event: trio.Event


@attrs.frozen
class Noop:
    """Nothing to do."""


class Member(Actor):
    """Holds on ``Hold``, does nothing on ``Noop``."""

    @handler
    async def hold(self, message: Hold) -> None:
        await message.event.wait()

    @handler
    async def noop(self, message: Noop) -> None:
        pass


async def test_a_balancing_pool_says_when_its_shared_mailbox_is_full() -> None:
    """Full once the busy member leaves ``mailbox_size`` messages queued; not full before."""
    release = trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 1, router=Balancing(), mailbox_size=2, name="pool")
        endpoint = pool.endpoint
        assert isinstance(endpoint, SharingEndpoint)
        pool.tell_nowait(Hold(release))
        await trio.testing.wait_all_tasks_blocked()
        assert not endpoint.shared_mailbox_full()
        pool.tell_nowait(Noop())
        assert not endpoint.shared_mailbox_full()
        pool.tell_nowait(Noop())
        assert endpoint.shared_mailbox_full()
        release.set()
        await trio.testing.wait_all_tasks_blocked()
        assert not endpoint.shared_mailbox_full()


@pytest.mark.parametrize(
    "router",
    [RoundRobin(), Broadcast(), ConsistentHash(lambda message: 0)],
    ids=["round-robin", "broadcast", "consistent-hash"],
)
async def test_a_pool_whose_members_own_their_mailboxes_shares_none(router: Router) -> None:
    """However full its member's mailbox, a pool without a shared one never says it is full."""
    release = trio.Event()
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Member, 1, router=router, mailbox_size=1, name="pool")
        endpoint = pool.endpoint
        assert isinstance(endpoint, SharingEndpoint)
        pool.tell_nowait(Hold(release))
        await trio.testing.wait_all_tasks_blocked()
        pool.tell_nowait(Noop())
        assert not endpoint.shared_mailbox_full()
        release.set()


async def test_a_plain_actors_endpoint_is_its_cell() -> None:
    """A plain actor's ref delivers through its cell, which shares no mailbox."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Member, name="plain")
        assert isinstance(ref.endpoint, Cell)
        assert not isinstance(ref.endpoint, SharingEndpoint)
