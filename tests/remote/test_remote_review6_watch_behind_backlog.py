"""A request the server has not read yet is not timed out as if the other nodes were silent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio
import trio.testing
from remote_support import Account, Seen, Watched, Watcher, WatchIt
from test_remote_review_full_buffer import CHUNK, Chunk
from test_remote_review_notices import watched

import trouper
from relay_support import Relay
from trouper.remote import Nats, cluster_of, locate
from trouper.testing import NatsServer


async def settle(condition: Callable[[], bool]) -> None:
    """Let every task run until ``condition()`` holds (virtual time stands still meanwhile).

    Each round waits until no task has run for 50 ms of real time; after 200
    rounds (10 s or more) the condition is taken never to hold.
    """
    for _ in range(200):
        if condition():
            return
        await trio.testing.wait_all_tasks_blocked(0.05)
    raise AssertionError("the condition never held")


@asynccontextmanager
async def bank_and_web_behind_a_relay(
    url: str, prefix: str
) -> AsyncIterator[tuple[Relay, trouper.Runtime, trouper.Runtime]]:
    """Nodes bank and web (heartbeat 1 s) at ``url``, web connected through a relay."""
    relay = Relay(url)
    async with trio.open_nursery() as outer:
        port = await outer.start(relay.serve)
        near = Nats(f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=1.0)
        far = Nats(url, prefix=prefix, heartbeat=1.0)
        async with (
            trouper.open_runtime(node="bank", transport=far) as bank,
            trouper.open_runtime(node="web", transport=near) as web,
        ):
            yield relay, bank, web
        outer.cancel_scope.cancel()


async def test_a_watch_request_behind_a_full_outbox_is_not_timed_out_before_it_is_written(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """Bank answers as soon as it reads it: it did not fail to answer, web had not asked yet.

    The clock stands still unless jumped: the jump passes the watch's deadline
    while web's writes are held, with no real time spent.
    """
    seen: list[object] = []
    async with bank_and_web_behind_a_relay(cluster_server.url, prefix) as (relay, bank, web):
        acct = await bank.spawn(Account, 0, name="acct")
        watcher = await web.spawn(Watcher)
        report = await web.spawn(Seen, seen)
        await settle(lambda: cluster_of(web).nodes() == ("bank", "web"))
        target = web.remote("bank", "sink")
        async with trio.open_nursery() as nursery:

            async def fill() -> None:
                while await target.tell(Chunk(bytes(CHUNK))):
                    pass

            relay.hold()
            try:  # (released whatever happens: leaving would wait for the server forever)
                nursery.start_soon(fill)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
                await watcher.tell(WatchIt(web.remote("bank", "acct"), report))
                await trio.testing.wait_all_tasks_blocked(0.2)  # the request waits its turn
                mock_clock.jump(10)  # past the watch's deadline (4 s: 4 of bank's intervals)
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert seen == []
                nursery.cancel_scope.cancel()
            finally:
                relay.release()
        await settle(lambda: watched(bank, "acct"))
        await bank.stop(acct)
        await settle(lambda: len(seen) == 1)
    assert seen == [Watched("/acct", "bank", "")]


async def test_a_lookup_not_yet_read_by_the_server_is_not_a_no_from_every_node(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """Bank has the name and answers once it is asked: ``locate`` finds it, not ``None``.

    The clock stands still unless jumped: the jump passes the lookup's two
    heartbeat intervals while the server has not read web's request.
    """
    found: list[object] = []
    async with bank_and_web_behind_a_relay(cluster_server.url, prefix) as (relay, bank, web):
        acct = await bank.spawn(Account, 0, name="acct")
        await settle(lambda: cluster_of(web).nodes() == ("bank", "web"))

        async def look() -> None:
            found.append(await locate(web, "acct"))

        async with trio.open_nursery() as nursery:
            relay.hold()
            try:  # (released whatever happens: leaving would wait for the server forever)
                nursery.start_soon(look)
                await trio.testing.wait_all_tasks_blocked(0.2)  # its request is held
                mock_clock.jump(10)  # past its two intervals (2 s)
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert found == []
            finally:
                relay.release()
            await settle(lambda: found != [])
    assert found == [acct]
