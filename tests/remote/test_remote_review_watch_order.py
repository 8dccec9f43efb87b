"""Watch and unwatch requests to a node keep their order while the write buffer is full."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Account, Balance, nodes, wait_for
from test_remote_review_full_buffer import Flood, Flooder, paused
from test_remote_watch import Journal, wait_until_watched, watched

from trouper import Terminated
from trouper.remote import Nats
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_watch_made_again_behind_a_queued_unwatch_still_reports_the_stop(
    own_server: NatsServer, prefix: str
) -> None:
    """Unwatch then watch while the buffer is full: the other node ends up watching."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    seen: list[Terminated] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        acct = await bank.spawn(Account, 0, name="acct-1")
        journal = await web.spawn(Journal, seen)
        flooder = await web.spawn(Flooder)
        remote = web.remote("bank", "acct-1")
        with trio.fail_after(20):
            await journal.tell(("watch", remote))
            await wait_until_watched(bank, "acct-1")
            with paused(own_server):
                await flooder.tell(Flood(40))  # more than the sockets and the 8 MiB buffer
                await trio.testing.wait_all_tasks_blocked(0.2)
                await journal.tell(("unwatch", remote))
                await journal.tell(("watch", remote))
                await journal.ask(Balance())
                await trio.testing.wait_all_tasks_blocked(0.2)
            # Everything the flood queued is read; a later tell to bank goes after it.
            await web.remote("bank", "acct-1").ask(Balance())
            assert watched(bank, "acct-1")
            await bank.stop(acct)
            await wait_for(lambda: len(seen) == 1)
    assert seen[0].ref == remote


async def test_an_unwatch_queued_behind_a_full_buffer_leaves_no_watch_on_the_other_node(
    own_server: NatsServer, prefix: str
) -> None:
    """Watch, unwatch, watch, unwatch while the buffer is full: nothing is left watching."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    seen: list[Terminated] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1")
        journal = await web.spawn(Journal, seen)
        flooder = await web.spawn(Flooder)
        remote = web.remote("bank", "acct-1")
        with trio.fail_after(20):
            with paused(own_server):
                await flooder.tell(Flood(40))
                await trio.testing.wait_all_tasks_blocked(0.2)
                await journal.tell(("watch", remote))
                await journal.ask(Balance())
                await trio.testing.wait_all_tasks_blocked(0.2)
                await journal.tell(("unwatch", remote))
                await journal.tell(("watch", remote))
                await journal.ask(Balance())
                await trio.testing.wait_all_tasks_blocked(0.2)
                await journal.tell(("unwatch", remote))
                await journal.ask(Balance())
                await trio.testing.wait_all_tasks_blocked(0.2)
            await web.remote("bank", "acct-1").ask(Balance())
            await trio.testing.wait_all_tasks_blocked(0.2)
            assert not watched(bank, "acct-1")
    assert seen == []
