"""Review 26: a dead letter redriven after the dead-letter stream was made again is not lost.

``redrive`` published each dead letter with the key ``r:<its id>`` (its
sequence in the dead-letter stream), then deleted it. An operator who
deletes the dead-letter stream (the next dead letter makes it again)
restarts those sequences at 1: a new dead letter redriven within the
mailbox's dedup window of an old one with the same id was dropped by the
server as a copy, and then deleted: lost. The key now holds the dead
letter's time of death too, the same for every listing of one letter.
"""

from __future__ import annotations

import pytest
from js_support import Job, dead_letters, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Refuser(trouper.Actor):
    """Notes every job it is given, and gives it up."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.seen.append(message.n)
        raise GiveUp("not here")


async def test_a_dead_letter_whose_id_was_redriven_before_the_stream_was_remade_comes_back(
    js_server: NatsServer, prefix: str
) -> None:
    """Both letters numbered 1 go back to the mailbox and run again."""
    seen: list[int] = []
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        refuser = await rt.spawn(Refuser, seen, name="jobs", mailbox=Durable())
        await refuser.tell(Job(1))

        async def buried() -> bool:
            return len(await dead_letters(rt, "jobs")) == 1

        await eventually(buried)
        assert [r.id for r in await dead_letters(rt, "jobs")] == [1]
        assert await rt.store.redrive("jobs") == 1
        await eventually(buried)
        # The operator clears the dead letters by deleting their stream.
        await store.client.jetstream().delete_stream(f"{prefix}_dead")
        await refuser.tell(Job(2))
        await eventually(buried)
        assert [r.id for r in await dead_letters(rt, "jobs")] == [1]
        assert await rt.store.redrive("jobs") == 1

        async def ran_again() -> bool:
            return seen.count(2) == 2

        await eventually(ran_again)
    assert sorted(seen) == [1, 1, 2, 2]
