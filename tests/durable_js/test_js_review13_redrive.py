"""Review: two processes redriving or discarding the same dead letters at once.

Each call lists the letters, then publishes and deletes them one by one: the
second to delete a letter got the server's "no message found" and raised
midway, leaving the rest of its letters as they were.
"""

from __future__ import annotations

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

LETTERS = 5


class Refuser(trouper.Actor):
    """Gives every job up; counts the jobs it saw."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.seen.append(message.n)
        raise GiveUp("no")


async def bury(rt: trouper.Runtime, seen: list[int]) -> None:
    """Give LETTERS jobs up in ``rt``'s mailbox ``jobs``, then stop its actor."""
    ref = await rt.spawn(Refuser, seen, name="jobs", mailbox=Durable())
    for n in range(LETTERS):
        await ref.tell(Job(n))

    async def buried() -> bool:
        return len([r async for r in rt.store.dead_letters("jobs")]) == LETTERS

    await eventually(buried)
    await rt.stop(ref)


@pytest.mark.parametrize("second", ["redrive", "discard"])
async def test_two_calls_at_once_on_the_same_dead_letters_both_finish(
    js_server: NatsServer, prefix: str, second: str
) -> None:
    """A redrive beside another redrive (or a discard): both return, each letter counted once."""
    seen: list[int] = []
    async with (
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt,
        store_for(js_server.url, prefix) as other,
    ):
        await bury(rt, seen)
        counts: list[int] = []

        async def call(store: object, what: str) -> None:
            counts.append(await getattr(store, what)("jobs"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, rt.store, "redrive")
            nursery.start_soon(call, other, second)
        assert sum(counts) == LETTERS
        assert [r async for r in rt.store.dead_letters("jobs")] == []
        stats = {s.name: s for s in await rt.store.mailbox_statistics()}
        if second == "redrive":
            assert stats["jobs"].depth == LETTERS  # each stored once
