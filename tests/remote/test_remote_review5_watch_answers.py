"""A watch request that comes while the watched node's write buffer is full is still answered."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Seen, Watched, Watcher, WatchIt, nodes, wait_for
from test_remote_review_full_buffer import Flood, Flooder, paused

from trouper.remote import Nats
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_watch_answered_while_the_write_buffer_is_full_is_answered_once_there_is_room(
    own_server: NatsServer, prefix: str
) -> None:
    """The answer ("no such actor") waits its turn; it was dropped, and the watch waited in vain."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    seen: list[object] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        flooder = await bank.spawn(Flooder)
        watcher = await web.spawn(Watcher)
        report = await web.spawn(Seen, seen)
        with trio.fail_after(20):
            with paused(own_server):
                # 36 MB: more than the sockets and the client's 8 MiB buffer hold.
                await flooder.tell(Flood(40))
                await trio.testing.wait_all_tasks_blocked(0.2)
                await watcher.tell(WatchIt(web.remote("bank", "nobody"), report))
                await trio.testing.wait_all_tasks_blocked(0.2)
            await wait_for(lambda: len(seen) == 1)
    assert seen == [Watched("/nobody", "bank", "")]
