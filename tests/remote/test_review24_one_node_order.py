"""Review 24: tells from one node to another keep the order they were made in, across refs.

The outbox kept one open batch per actor subject, which later tells joined
even after a tell to another subject of the same node was queued behind it.
Two refs to one actor, one by its registered name and one by its path, have
two subjects: a burst told through both (or any tells made while the
connection's write buffer was full) reached the actor out of order (``p1``,
``p2``, ``n`` for ``p1``, ``n``, ``p2``). And since the sender numbers its
messages to a node in one sequence, a burst interleaved between two actors of
one node arrived with its numbers out of order, which the receiver counted
as lost messages (``statistics().lost``) though every one arrived. A tell now
joins an open batch only while nothing for that node was queued after it.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import Note, Notes, nodes, wait_for

from trouper import Actor, ActorRef, handler
from trouper.remote import Nats, cluster_of

pytestmark = pytest.mark.real_clock


class Parent(Actor):
    """Starts a ``Notes`` child registered as ``worker``; answers any ``Note`` with its ref."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    async def on_start(self) -> None:
        self.child = await self.ctx.spawn(Notes, self.seen, name="worker")

    @handler
    async def where(self, message: Note) -> ActorRef[object]:
        return self.child


async def test_tells_by_name_and_by_path_reach_the_actor_in_the_order_told(
    transport: Nats,
) -> None:
    """A burst through both refs arrives as told, and the receiver counts nothing lost."""
    seen: list[object] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn(Parent, seen, name="parent")
        by_name = web.remote("bank", "worker")
        by_path = await web.remote("bank", "parent").ask(Note("where?"))
        assert isinstance(by_path, ActorRef)
        assert by_path.address.path == "/parent/worker"
        told = ["p1", "n1", "p2", "n2", "p3"]
        for text in told:
            ref = by_path if text.startswith("p") else by_name
            assert ref.tell_nowait(Note(text))
        await ref.tell(Note("last"))
        with trio.fail_after(20):
            await wait_for(lambda: len(seen) == len(told) + 1)
        assert seen == [*told, "last"]
        assert cluster_of(bank).statistics().lost == 0


async def test_a_burst_to_two_actors_of_one_node_counts_nothing_lost(transport: Nats) -> None:
    """Interleaved tells to two actors of one node: each gets its own in order, none lost."""
    seen_x: list[object] = []
    seen_y: list[object] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn(Notes, seen_x, name="x")
        await bank.spawn(Notes, seen_y, name="y")
        x, y = web.remote("bank", "x"), web.remote("bank", "y")
        for n in range(3):
            assert x.tell_nowait(Note(f"x{n}"))
            assert y.tell_nowait(Note(f"y{n}"))
        with trio.fail_after(20):
            await wait_for(lambda: len(seen_x) + len(seen_y) == 6)
        assert (seen_x, seen_y) == (["x0", "x1", "x2"], ["y0", "y1", "y2"])
        assert cluster_of(bank).statistics().lost == 0
