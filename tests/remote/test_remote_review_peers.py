"""A node forgets the other nodes it has not heard from for a while (its records stay bounded)."""

from __future__ import annotations

import pytest
import trio
from remote_support import Account, Balance, Note, nodes, wait_for

import trouper
from trouper.errors import NodeUnreachable
from trouper.remote import Nats, cluster_of

pytestmark = pytest.mark.real_clock


async def test_records_of_nodes_never_heard_from_are_dropped_and_their_refs_still_work(
    transport: Nats,
) -> None:
    """Fifty node names addressed once are forgotten; a ref kept meanwhile reaches its node."""
    async with nodes(transport, "web") as (web,):
        cluster = cluster_of(web)
        early = web.remote("late", "acct")
        for i in range(50):
            await web.remote(f"brief-{i}", "x").tell(Note("hello?"))
        assert cluster.statistics().peers == 51
        with trio.fail_after(20):
            await wait_for(lambda: cluster.statistics().peers == 0)
            async with trouper.open_runtime(node="late", transport=transport) as late:
                await late.spawn(Account, 5, name="acct")
                await wait_for(lambda: "late" in cluster.nodes())
                assert await early.ask(Balance()) == 5
                await early.tell(Note("kept"))
                assert cluster.statistics().peers == 1


async def test_the_record_of_a_node_that_left_is_dropped_after_a_while(transport: Nats) -> None:
    """A node that left is gone at once, and forgotten later; asking it still says unreachable."""
    async with nodes(transport, "web") as (web,):
        cluster = cluster_of(web)
        ref = web.remote("brief", "acct")
        async with trouper.open_runtime(node="brief", transport=transport) as brief:
            await brief.spawn(Account, 1, name="acct")
            with trio.fail_after(10):
                await wait_for(lambda: "brief" in cluster.nodes())
            assert await ref.ask(Balance()) == 1
        with trio.fail_after(20):
            await wait_for(lambda: cluster.nodes() == ("web",))
            assert cluster.statistics().peers == 1
            await wait_for(lambda: cluster.statistics().peers == 0)
        with pytest.raises(
            NodeUnreachable,
            match=r"^actor trouper://brief/acct is unreachable: no node .brief. is in the cluster$",
        ):
            await ref.ask(Balance())
