"""Review 26: a message of a mailbox stream made again is dead-lettered, not lost.

A dead letter's dedup key was ``dead:<mailbox>:<sequence>``, so that a message
dead-lettered twice is stored once. A mailbox's stream deleted and made again
(an operator's reset, with no host running) numbers its messages from 1
again: its first message given up within the dead-letter stream's dedup
window of the old stream's first was dropped as its copy, then terminated:
lost. The key now holds the message's stored time too, the same on every
delivery of one message.
"""

from __future__ import annotations

import pytest
from js_support import Job, dead_letters, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Refuser(trouper.Actor):
    """Gives every job up."""

    @trouper.handler
    async def job(self, message: Job) -> None:
        raise GiveUp("not here")


async def test_the_first_message_of_a_remade_mailbox_stream_reaches_the_dead_letters(
    js_server: NatsServer, prefix: str
) -> None:
    """Both messages numbered 1, of the old stream and of the new one, are dead letters."""
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        refuser = await rt.spawn(Refuser, name="jobs", mailbox=Durable())
        await refuser.tell(Job(1))

        async def buried(count: int) -> bool:
            return len(await dead_letters(rt, "jobs")) == count

        await eventually(lambda: buried(1))
        await rt.stop(refuser)
        await store.client.jetstream().delete_stream(store.stream_name("jobs"))
        refuser = await rt.spawn(Refuser, name="jobs", mailbox=Durable())
        await refuser.tell(Job(2))
        await eventually(lambda: buried(2))
        assert [r.message for r in await dead_letters(rt, "jobs")] == [Job(1), Job(2)]
