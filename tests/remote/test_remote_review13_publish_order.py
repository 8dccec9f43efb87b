"""A publish from a node does not overtake the tells that node sent before it.

A tell waits in the node's outbox until the sender yields (a burst leaves as
one NATS message), but a publish on a shared subject was written to the
connection at once: an actor on another node that is both told and
subscribed got the publish before the tell sent ahead of it, where one
process keeps the order.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import Note, Notes, nodes, wait_for

from trouper.remote import Nats

pytestmark = pytest.mark.real_clock


async def test_a_publish_after_a_tell_reaches_the_actor_after_the_tell(
    transport: Nats,
) -> None:
    """The told and subscribed actor sees the tell, then the publish."""
    seen: list[object] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        notes = await bank.spawn(Notes, seen, name="notes")
        bank.topics.subscribe(notes, "news.>")
        ref = web.remote("bank", "notes")
        with trio.fail_after(10):
            await ref.tell(Note("warm-up"))
            await wait_for(lambda: seen == ["warm-up"])
            for n in range(3):
                await ref.tell(Note(f"told {n}"))
                await web.topics.publish("news.today", Note(f"published {n}"))
            await wait_for(lambda: len(seen) == 7)
    assert seen == [
        "warm-up",
        "told 0",
        "published 0",
        "told 1",
        "published 1",
        "told 2",
        "published 2",
    ]
