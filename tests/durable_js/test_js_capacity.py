"""Capacity on JetStream: the stream's max_msgs bounds a durable mailbox for every producer."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.errors import MailboxFull
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Recorder(trouper.Actor):
    """Records the jobs it handles."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.seen.append(message.n)


async def test_tell_waits_while_the_durable_mailbox_is_full(
    js_server: NatsServer, prefix: str
) -> None:
    """Two stored of capacity 2: a third tell returns only once a host has made room."""
    seen: list[int] = []
    told: list[int] = []
    options = Durable(capacity=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "jobs", options=options)  # makes the stream with its capacity
        await ref.tell(Job(0))
        await ref.tell(Job(1))

        async def third() -> None:
            await ref.tell(Job(2))
            told.append(2)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(third)
            await trio.sleep(0.5)
            assert told == []
            (stats,) = await rt.store.mailbox_statistics()
            assert stats.depth == 2
            await rt.spawn(Recorder, seen, name="jobs", mailbox=options)
        await eventually(lambda: len(seen) == 3)
    assert told == [2]
    assert seen == [0, 1, 2]


async def test_a_tell_waiting_for_room_is_cancelled_by_its_deadline(
    js_server: NatsServer, prefix: str
) -> None:
    """A tell waiting for room in a full mailbox obeys its cancel scope, as in memory."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "jobs", options=Durable(capacity=1))
        await ref.tell(Job(0))
        with trio.fail_after(5), trio.move_on_after(0.3) as scope:
            await ref.tell(Job(1))
        (stats,) = await rt.store.mailbox_statistics()
    assert scope.cancelled_caught
    assert stats.depth == 1


async def test_tell_nowait_to_a_full_stream_is_stored_once_there_is_room(
    js_server: NatsServer, prefix: str
) -> None:
    """A process cannot see the stream's count: tell_nowait stages, flush waits for room."""
    seen: list[int] = []
    options = Durable(capacity=2)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "jobs", options=options)
        await ref.tell(Job(0))
        await ref.tell(Job(1))
        ref.tell_nowait(Job(2))
        with trio.move_on_after(0.5) as scope:
            await rt.store.flush()
        assert scope.cancelled_caught  # not stored: no room
        await rt.spawn(Recorder, seen, name="jobs", mailbox=options)
        with trio.fail_after(10):
            await rt.store.flush()
        await eventually(lambda: len(seen) == 3)
    assert seen == [0, 1, 2]


async def test_tell_nowait_beyond_capacity_in_one_pass_raises_mailbox_full(
    js_server: NatsServer, prefix: str
) -> None:
    """What this process has staged and not yet stored counts: beyond capacity, MailboxFull."""
    seen: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Recorder, seen, name="jobs", mailbox=Durable(capacity=2))
        ref.tell_nowait(Job(0))
        ref.tell_nowait(Job(1))
        with pytest.raises(MailboxFull):
            ref.tell_nowait(Job(2))
        await rt.store.flush()
        await eventually(lambda: len(seen) == 2)
    assert seen == [0, 1]
