"""An ask or tell that raised ``Cancelled`` before it was handed to the connection is never sent.

Web's writes go through a relay that holds them, so its connection's write
buffer fills. The clock stands still unless the test jumps it: no heartbeat
and no liveness check runs meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing
from remote_support import Note, Notes
from test_remote_review6_watch_behind_backlog import bank_and_web_behind_a_relay, settle
from test_remote_review_full_buffer import CHUNK, Chunk

import trouper
import trouper.nats
from relay_support import Relay
from trouper.remote import cluster_of
from trouper.remote.wire import pack
from trouper.testing import NatsServer

GHOST = "cd" * 8
"""The incarnation of node "ghost", a bare NATS client that beats once and says goodbye."""


@asynccontextmanager
async def full_write_buffer(
    url: str, prefix: str
) -> AsyncIterator[tuple[Relay, trouper.Runtime, trouper.Runtime, list[object]]]:
    """Bank (with a ``Notes`` actor "acct") and web, web's write buffer full, its outbox empty.

    Web tells node "ghost" until its outbox is full; ghost then leaves, which
    takes its tells off web's outbox: what web queues next waits behind a
    write buffer the relay does not let the server read, in an outbox with room.
    """
    seen: list[object] = []
    async with (
        bank_and_web_behind_a_relay(url, prefix) as (relay, bank, web),
        trouper.nats.connect(url) as ghost,
    ):
        await bank.spawn(Notes, seen, name="acct")
        await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["up", GHOST, 1.0]))
        await settle(lambda: cluster_of(web).nodes() == ("bank", "ghost", "web"))
        relay.hold()
        try:  # (released whatever happens: leaving would wait for the server forever)
            target = web.remote("ghost", "sink")

            async def fill() -> None:
                while await target.tell(Chunk(bytes(CHUNK))):
                    pass

            async with trio.open_nursery() as nursery:
                nursery.start_soon(fill)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["bye", GHOST]))
            # (fill ended: its last tell was refused as ghost left, and the rest dropped)
            yield relay, bank, web, seen
        finally:
            relay.release()


async def test_an_ask_cancelled_while_queued_behind_a_full_write_buffer_is_never_sent(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """Its deadline fired before it was written: acct never gets it; the tells around it do.

    Nothing is counted lost on bank (the ask's number is given to the tells
    after it) nor sent on web.
    """
    outcomes: list[str] = []
    async with full_write_buffer(cluster_server.url, prefix) as (relay, bank, web, seen):
        acct = web.remote("bank", "acct")
        sent = cluster_of(web).statistics().sent

        async def ask() -> None:
            with trio.move_on_after(0.5):
                await acct.ask(Note("asked"))
                outcomes.append("answered")
                return
            outcomes.append("cancelled")

        async with trio.open_nursery() as nursery:
            assert await acct.tell(Note("before"))  # the ask joins its batch
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked(0.2)  # the ask is queued
            assert await acct.tell(Note("after"))  # queued behind the ask
            mock_clock.jump(0.6)  # the ask's deadline fires (not a heartbeat: nobody is gone)
        assert outcomes == ["cancelled"]
        assert await acct.tell(Note("last"))
        assert cluster_of(web).statistics().sent == sent + 3
        relay.release()
        await settle(lambda: len(seen) >= 3)
        await cluster_of(web).flush()
        await cluster_of(bank).flush()
        await trio.testing.wait_all_tasks_blocked(0.2)
        assert seen == ["before", "after", "last"]
        assert cluster_of(bank).statistics().lost == 0


async def test_an_ask_cancelled_alone_in_its_batch_is_never_sent(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """Cancelled by its caller's scope, the ask's own batch leaves the queue; later tells arrive."""
    outcomes: list[str] = []
    async with full_write_buffer(cluster_server.url, prefix) as (relay, bank, web, seen):
        acct = web.remote("bank", "acct")
        other = web.remote("bank", "other")  # another subject: the ask does not join its batch

        async def ask(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
            with trio.CancelScope() as scope:
                task_status.started(scope)
                await acct.ask(Note("asked"))
                outcomes.append("answered")
                return
            outcomes.append("cancelled")

        assert await other.tell(Note("before"))
        async with trio.open_nursery() as nursery:
            scope = await nursery.start(ask)
            await trio.testing.wait_all_tasks_blocked(0.2)  # the ask is queued
            scope.cancel()
        assert outcomes == ["cancelled"]
        assert await acct.tell(Note("last"))
        relay.release()
        await settle(lambda: len(seen) >= 1)
        await cluster_of(web).flush()
        await cluster_of(bank).flush()
        await trio.testing.wait_all_tasks_blocked(0.2)
        assert seen == ["last"]
        assert cluster_of(bank).statistics().lost == 0
        assert cluster_of(bank).statistics().undecodable == 0  # (nothing left of it was sent)


async def test_a_tell_cancelled_while_it_waits_for_room_is_never_sent(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """``tell`` (or ``ask``) raised ``Cancelled`` waiting for room in a full outbox: never sent."""
    outcomes: list[str] = []
    async with bank_and_web_behind_a_relay(cluster_server.url, prefix) as (relay, bank, web):
        seen: list[object] = []
        await bank.spawn(Notes, seen, name="acct")
        await settle(lambda: cluster_of(web).nodes() == ("bank", "web"))
        acct = web.remote("bank", "acct")
        sink = web.remote("bank", "sink")
        relay.hold()
        try:

            async def fill() -> None:
                while await sink.tell(Chunk(bytes(CHUNK))):
                    pass

            async def tell(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
                with trio.CancelScope() as scope:
                    task_status.started(scope)
                    outcomes.append(f"returned {await acct.tell(Note('cancelled'))}")
                    return
                outcomes.append("cancelled")

            async def ask(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
                with trio.CancelScope() as scope:
                    task_status.started(scope)
                    await acct.ask(Note("asked"))
                    outcomes.append("answered")
                    return
                outcomes.append("cancelled")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(fill)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                told = await nursery.start(tell)
                asked = await nursery.start(ask)
                await trio.testing.wait_all_tasks_blocked(0.2)  # both wait for room
                told.cancel()
                asked.cancel()
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert outcomes == ["cancelled", "cancelled"]
                nursery.cancel_scope.cancel()
        finally:
            relay.release()
        assert await acct.tell(Note("last"))
        await settle(lambda: len(seen) >= 1)
        await cluster_of(web).flush()
        await cluster_of(bank).flush()
        await trio.testing.wait_all_tasks_blocked(0.2)
    assert seen == ["last"]


async def test_a_publish_cancelled_while_it_waits_for_room_is_never_sent(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """``publish`` raised ``Cancelled`` waiting for room: bank's subscriber never gets it."""
    outcomes: list[str] = []
    async with bank_and_web_behind_a_relay(cluster_server.url, prefix) as (relay, bank, web):
        seen: list[object] = []
        bank.topics.subscribe(await bank.spawn(Notes, seen), "news.*")
        await settle(lambda: cluster_of(web).nodes() == ("bank", "web"))
        sink = web.remote("bank", "sink")
        relay.hold()
        try:

            async def fill() -> None:
                while await sink.tell(Chunk(bytes(CHUNK))):
                    pass

            async def publish(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
                with trio.CancelScope() as scope:
                    task_status.started(scope)
                    await web.topics.publish("news.x", Note("cancelled"))
                    outcomes.append("returned")
                    return
                outcomes.append("cancelled")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(fill)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                scope = await nursery.start(publish)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the publish waits for room
                scope.cancel()
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert outcomes == ["cancelled"]
                nursery.cancel_scope.cancel()
        finally:
            relay.release()
        await web.topics.publish("news.x", Note("last"))
        await settle(lambda: len(seen) >= 1)
        await cluster_of(web).flush()
        await cluster_of(bank).flush()
        await trio.testing.wait_all_tasks_blocked(0.2)
    assert seen == ["last"]
