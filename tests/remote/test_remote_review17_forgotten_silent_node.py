"""A node that went silent is still known as gone once its record is dropped.

A node forgets the record of another gone for ten of its heartbeat intervals.
An ask to one that went silent (a host that died, or a network cut: the
server may keep its subscriptions for minutes, until its pings time out)
then went out as to a node never heard of: the server's stale subscription
took it, no "no responders" came, and the ask waited until its deadline,
where it failed at once before the record was dropped.
"""

from __future__ import annotations

import pytest
import trio
from remote_support import Balance, nodes, wait_for

import trouper.nats
from trouper import ActorRef, Terminated
from trouper.errors import NodeUnreachable
from trouper.nats import Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def _ignore(msg: Msg) -> None:
    """A dead host's subscription, still held by the server: it takes and answers nothing."""


WHY = r"node 'bank' sent no heartbeat for 0\.4 s"


async def test_an_ask_to_a_forgotten_silent_node_fails_at_once(
    cluster_server: NatsServer, prefix: str
) -> None:
    """NodeUnreachable, saying why it went, not a wait until the deadline."""
    transport = Nats(cluster_server.url, prefix=prefix, heartbeat=0.1)
    seen: list[object] = []
    async with (
        nodes(transport, "web") as (web,),
        trouper.nats.connect(cluster_server.url) as bank,
    ):
        await bank.subscribe(f"{prefix}.actor.bank.>", callback=_ignore)
        await bank.subscribe(f"{prefix}.node.bank", callback=_ignore)
        cluster = cluster_of(web)
        ref = web.remote("bank", "acct")
        with trio.fail_after(10):
            await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", "ab" * 8, 0.2]))
            await wait_for(lambda: "bank" in cluster.nodes())
            await wait_for(lambda: "bank" not in cluster.nodes())  # silent: gone
            await wait_for(lambda: cluster.statistics().peers == 0)  # then forgotten
        with trio.fail_after(5), pytest.raises(NodeUnreachable, match=rf": {WHY}$"):
            await ref.ask(Balance())
        assert not await ref.tell(Balance())
        async with trio.open_nursery():
            watcher = await web.spawn(_Watcher, ref, seen)
            with trio.fail_after(5):
                await wait_for(lambda: len(seen) == 1)
            await web.stop(watcher)
    [terminated] = seen
    assert isinstance(terminated, Terminated)
    assert isinstance(terminated.reason, NodeUnreachable)
    assert str(terminated.reason).endswith(WHY.replace("\\", ""))


class _Watcher(trouper.Actor):
    """Watches ``target`` and appends what it is told to ``seen``."""

    def __init__(self, target: ActorRef[object], seen: list[object]) -> None:
        self.target = target
        self.seen = seen

    async def on_start(self) -> None:
        self.ctx.watch(self.target)

    async def receive(self, message: object) -> None:
        self.seen.append(message)
