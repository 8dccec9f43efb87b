"""A node forgets the other nodes it has not heard from for a while (its records stay bounded)."""

from __future__ import annotations

import attrs
import pytest
import trio
from remote_support import Account, Balance, Note, nodes, wait_for
from test_remote_review_notices import Journal, watched

import trouper
from relay_support import Relay
from trouper import Terminated
from trouper.errors import NodeUnreachable
from trouper.remote import Nats, cluster_of
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def forgetful(transport: Nats) -> Nats:
    """``transport`` with a short heartbeat: its node forgets others after ten of its own (2.5 s).

    The other nodes keep the usual heartbeat, so a stall under load fakes no death.
    """
    return attrs.evolve(transport, heartbeat=0.25)


async def test_records_of_nodes_never_heard_from_are_dropped_and_their_refs_still_work(
    transport: Nats,
) -> None:
    """Fifty node names addressed once are forgotten; a ref kept meanwhile reaches its node."""
    async with nodes(forgetful(transport), "web") as (web,):
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
    async with nodes(forgetful(transport), "web") as (web,):
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


async def test_a_node_heard_again_after_it_was_forgotten_gets_its_watches_checked(
    cluster_server: NatsServer, prefix: str
) -> None:
    """web forgets bank, gone silent one way; heard again, bank still re-checks its watches."""
    seen: list[Terminated] = []
    async with trio.open_nursery() as nursery:
        relay = Relay(cluster_server.url)
        port = await nursery.start(relay.serve)
        near = Nats(cluster_server.url, prefix=prefix, heartbeat=0.2)
        far = Nats(f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=0.2)
        async with (
            trouper.open_runtime(node="bank", transport=far) as bank,
            trouper.open_runtime(node="web", transport=near) as web,
        ):
            acct = await web.spawn(Account, 0, name="acct")
            journal = await bank.spawn(Journal, seen)
            with trio.fail_after(20):
                await wait_for(lambda: cluster_of(bank).nodes() == ("bank", "web"))
                await wait_for(lambda: cluster_of(web).nodes() == ("bank", "web"))
                await journal.tell(bank.remote("web", "acct"))
                await wait_for(lambda: watched(web, "acct"))
                relay.swallow()  # bank hears web, web hears nothing of bank
                await wait_for(lambda: not watched(web, "acct"))  # bank found gone: dropped
                await wait_for(lambda: cluster_of(web).statistics().peers == 0)
                relay.heal()
                await wait_for(lambda: cluster_of(web).nodes() == ("bank", "web"))
                await wait_for(lambda: watched(web, "acct"))
                await web.stop(acct)
                await wait_for(lambda: len(seen) == 1)
            assert cluster_of(bank).statistics().reconnects == 0  # (which would re-check too)
            assert cluster_of(bank).nodes() == ("bank", "web")  # bank never found web gone
        nursery.cancel_scope.cancel()
    assert seen[0].reason is None
