"""An ask to a node never heard from fails once it has stayed silent for two heartbeats.

"No node of that name is in the cluster" was known only from the server's
"no responders". A subscription the server keeps for a node that died before
this node heard from it (a dead host's, until the server's pings time out),
or one of a node stalled since before this node joined, takes the request and
never answers: the ask waited until its deadline, or for good, while an ask
to a node heard from and then silent fails within two of its heartbeats.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import Balance, nodes

import trouper.nats
from trouper.errors import NodeUnreachable
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def _ignore(msg: Msg) -> None:
    """A dead host's subscription, still held by the server: it takes and answers nothing."""


async def test_an_ask_to_a_node_never_heard_from_fails_after_two_heartbeats(
    cluster_server: NatsServer, prefix: str
) -> None:
    """NodeUnreachable, not a wait until the deadline; the node is then known as not there."""
    transport = Nats(cluster_server.url, prefix=prefix, heartbeat=0.1)
    async with (
        nodes(transport, "web") as (web,),
        trouper.nats.connect(cluster_server.url) as bank,
    ):
        await bank.subscribe(f"{prefix}.actor.bank.>", callback=_ignore)
        await bank.flush()
        with (
            trio.fail_after(5),
            pytest.raises(
                NodeUnreachable,
                match=r"^actor trouper://bank/acct is unreachable: no node 'bank' is in the "
                r"cluster \(none was heard from in 0\.2 s\)$",
            ),
        ):
            await web.remote("bank", "acct").ask(Balance())
        assert cluster_of(web).nodes() == ("web",)
