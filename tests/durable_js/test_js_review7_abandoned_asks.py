"""Review: an ask whose message another host handled is not kept by the asker's mailbox for ever.

On a mailbox shared by several hosts, an ask's reply reaches the asker only
if its message is handled in the asker's process (docs/durable.md); the
asker gives up at its deadline. The mailbox kept every such ask, and its
message, for as long as it lived, and went through all of them for each ask
it handled.
"""

from __future__ import annotations

import gc
import weakref

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Durable
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Holder(trouper.Actor):
    """Holds its first job until ``gate`` is set; answers each job with its number."""

    def __init__(self, gate: trio.Event, seen: list[int]) -> None:
        self.gate = gate
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> int:
        self.seen.append(message.n)
        await self.gate.wait()
        return message.n


async def test_asks_answered_by_another_host_are_let_go_once_their_askers_gave_up(
    js_server: NatsServer, prefix: str
) -> None:
    """Asks made here whose askers gave up (the other host has them): their messages are let go.

    A few of the latest may be kept a while: the mailbox sweeps them out as
    more asks come, at a cost spread over those asks.
    """
    here_seen: list[int] = []
    there_seen: list[int] = []
    options = Durable(prefetch=1)
    async with (
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as here,
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as there,
    ):
        held = trio.Event()
        ref = await here.spawn(Holder, held, here_seen, name="jobs", mailbox=options)
        await ref.tell(Job(0))
        await eventually(lambda: here_seen == [0])  # its one lease is taken: the rest go there
        there_held = trio.Event()
        await there.spawn(Holder, there_held, there_seen, name="jobs", mailbox=options)
        there_seen.clear()
        messages: list[weakref.ref[Job]] = []
        for n in range(1, 101):
            message = Job(n)
            messages.append(weakref.ref(message))
            with trio.move_on_after(0.03):
                await ref.ask(message)
            del message
        assert there_seen == [1]  # handled there (its handler waits), none answered here
        gc.collect()
        kept = [n for n, alive in enumerate(messages, 1) if alive() is not None]
        assert len(kept) < 50, kept  # a bounded few of the last ones, not all of them
        held.set()
        there_held.set()
