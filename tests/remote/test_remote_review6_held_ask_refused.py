"""A held ask whose mailbox refuses it when there is room gets that error; the node goes on."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Gate, Slow, nodes

import trouper
from trouper.remote import Nats, cluster_of
from trouper.runtime.lowlevel import MemoryMailbox

pytestmark = pytest.mark.real_clock


class StoreDown(MemoryMailbox):
    """A mailbox whose waiting ``put`` fails, as a durable one's does when its store is down."""

    __slots__ = ()

    async def put(self, item: object) -> bool:
        await trio.lowlevel.checkpoint()
        raise OSError("the store is down")


class OpensStoreDown:
    """The mailbox factory of the actor under test."""

    def open_mailbox(self, runtime: trouper.Runtime, name: str | None, size: float) -> StoreDown:
        return StoreDown(size)


async def test_a_held_ask_refused_by_its_mailbox_is_answered_with_the_error(
    transport: Nats,
) -> None:
    """In one process the asker would get the error; across nodes it does too, and bank lives on."""
    gate = trio.Event()
    seen: list[int] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        gated = await bank.spawn(
            Gate, gate, seen, name="gated", mailbox=OpensStoreDown(), mailbox_size=1
        )
        await gated.tell(Slow(1))
        await trio.testing.wait_all_tasks_blocked()  # taken: the handler waits for the gate
        assert gated.tell_nowait(Slow(2))  # the mailbox is full
        with trio.fail_after(10):
            with pytest.raises(OSError, match=r"^the store is down$"):
                await web.remote("bank", "gated").ask(Slow(3))
            assert cluster_of(bank).statistics().held == 0
            gate.set()
            await web.remote("bank", "gated").ask(Slow(4))  # bank still takes asks
    assert seen == [1, 2, 4]
