"""A lookup across nodes that loses its connection meanwhile says so instead of "not found"."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import nodes, wait_for

import trouper.nats
from trouper.errors import NodeUnreachable
from trouper.remote import Nats, cluster_of, locate
from trouper.remote.wire import pack
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_a_lookup_whose_connection_drops_while_it_waits_raises_node_unreachable(
    own_server: NatsServer, prefix: str
) -> None:
    """The answers may be lost with the connection: None would wrongly say nobody has the name."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=1.0, reconnect_wait=0.05)
    results: list[object] = []
    async with nodes(transport, "web") as (web,):
        async with trouper.nats.connect(own_server.url) as slow:
            # A node "slow" that beats but has not answered the lookup when the link drops.
            await slow.publish(f"{prefix}.heartbeat.slow", pack(["up", "ab" * 8, 30.0]))
            with trio.fail_after(10):
                await wait_for(lambda: "slow" in cluster_of(web).nodes())

        async def look() -> None:
            try:
                results.append(await locate(web, "acct"))
            except NodeUnreachable as error:
                results.append(error)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(look)
                await trio.testing.wait_all_tasks_blocked(0.05)
                own_server.stop()
                own_server.start()
            await wait_for(lambda: cluster_of(web).connected)  # (for a quick leave)
    [error] = results
    assert isinstance(error, NodeUnreachable)
    assert str(error) == (
        "actor trouper://web/acct is unreachable: "
        "this node's connection to the cluster dropped during the lookup"
    )
