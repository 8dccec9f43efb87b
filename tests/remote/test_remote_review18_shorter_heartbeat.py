"""A live node that announces a shorter heartbeat interval is checked by it at once.

The liveness check sleeps until the first moment a live node could be overdue
(two of its intervals after its last beat) or one of this node's intervals.
A node heard with a shorter interval than before did not move that wake-up
earlier, so its silence was found up to one of this node's intervals late.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import nodes, wait_for

import trouper.nats
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

OWN = 10.0
"""This node's heartbeat interval: the check it sleeps for, at most, when nothing is due sooner."""


def _ignore(msg: Msg) -> None:
    """The other node's subscription to its name, answering nothing."""


async def test_a_shorter_interval_moves_the_liveness_check_earlier(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Silent after announcing 0.1 s (it said 10 s before), it is gone well within OWN s."""
    transport = Nats(cluster_server.url, prefix=prefix, heartbeat=OWN)
    async with (
        nodes(transport, "web") as (web,),
        trouper.nats.connect(cluster_server.url) as bank,
    ):
        await bank.subscribe(f"{prefix}.node.bank", callback=_ignore)
        cluster = cluster_of(web)
        incarnation = "cd" * 8
        with trio.fail_after(5):
            await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", incarnation, OWN]))
            await wait_for(lambda: "bank" in cluster.nodes())
        await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", incarnation, 0.1]))
        await bank.flush()
        # Silent from now on: gone 0.2 s after that beat (and a round trip), not at the
        # check set for OWN s after the first one.
        with trio.fail_after(OWN / 4):
            await wait_for(lambda: "bank" not in cluster.nodes())
