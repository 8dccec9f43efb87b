"""Review 12: a request whose reply subject cannot be published to never cuts a node off.

Any client of the server may publish a lookup, a name check or a watch
request (or an ask) with a reply subject that holds a wildcard: the server
passes it on, and the answer cannot be published there. Raised from the
node's subscription callback, that ``ValueError`` closed the node's
connection for good and ended its runtime. The answer is now dropped, counted
as unsent; the node carries on.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Account, Balance, nodes, wait_for
from test_remote_review_full_buffer import Flood, Flooder

import trouper
from relay_support import Relay
from trouper.codec import Codec
from trouper.remote import Nats, cluster_of, locate
from trouper.remote.wire import NO_INCARNATION, frame, pack
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def publish_raw(server: NatsServer, commands: list[tuple[str, bytes]]) -> None:
    """Publish each (subject, payload) with the reply subject ``x.*``, as a lax client may."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.receive_some(65536)  # INFO
        data = b'CONNECT {"verbose":false}\r\n'
        for subject, payload in commands:
            data += f"PUB {subject} x.* {len(payload)}\r\n".encode() + payload + b"\r\n"
        await stream.send_all(data + b"PING\r\n")
        while b"PONG" not in await stream.receive_some(65536):
            pass


async def test_requests_with_a_wildcard_reply_subject_leave_the_node_up(
    cluster_server: NatsServer, transport: Nats, prefix: str
) -> None:
    """A lookup, a name check, a watch and an ask so answered: the node still serves."""
    with trio.fail_after(10):
        async with nodes(transport, "bank", "web") as (bank, web):
            await bank.spawn(Account, 5, name="acct")
            ask = frame(b"\x01" * 8, NO_INCARNATION, [(1, Codec().encode_blob(Balance()))])
            await publish_raw(
                cluster_server,
                [
                    (f"{prefix}.locate", pack(["locate", "acct", "elsewhere"])),
                    (f"{prefix}.node.bank", pack(["whois"])),
                    (f"{prefix}.node.bank", pack(["watch", "elsewhere", "/acct"])),
                    (f"{prefix}.actor.bank.acct", ask + (7).to_bytes(8, "big")),
                ],
            )
            cluster = cluster_of(bank)
            await wait_for(lambda: cluster.statistics().unsent == 4)
            assert cluster.connected
            assert await web.remote("bank", "acct").ask(Balance()) == 5
            found = await locate(web, "acct")
            assert found is not None
            assert found.address.node == "bank"


async def test_an_answer_queued_behind_others_and_dropped_is_counted_unsent(
    cluster_server: NatsServer, prefix: str
) -> None:
    """A name check answered while the write buffer is full: dropped once it leaves, counted."""
    async with trio.open_nursery() as nursery:
        relay = Relay(cluster_server.url)
        port = await nursery.start(relay.serve)
        transport = Nats(f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=30.0)
        async with trouper.open_runtime(node="bank", transport=transport) as bank:
            flooder = await bank.spawn(Flooder)
            cluster = cluster_of(bank)
            with trio.fail_after(20):
                relay.hold()  # what bank writes waits: its buffer fills, then its outbox
                await flooder.tell(Flood(40))
                await trio.testing.wait_all_tasks_blocked(0.2)
                await publish_raw(cluster_server, [(f"{prefix}.node.bank", pack(["whois"]))])
                await trio.testing.wait_all_tasks_blocked(0.2)  # bank has read it, answered
                relay.release()
                await wait_for(lambda: cluster.statistics().unsent == 1)
                assert cluster.connected
        nursery.cancel_scope.cancel()


async def test_an_ask_answer_queued_behind_others_and_dropped_is_not_sent_again(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Its reply subject takes nothing, later either: not kept to be sent after a reconnect."""
    async with trio.open_nursery() as nursery:
        relay = Relay(cluster_server.url)
        port = await nursery.start(relay.serve)
        transport = Nats(
            f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=30.0, reconnect_wait=0.05
        )
        async with trouper.open_runtime(node="bank", transport=transport) as bank:
            await bank.spawn(Account, 5, name="acct")
            flooder = await bank.spawn(Flooder)
            cluster = cluster_of(bank)
            ask = frame(b"\x01" * 8, NO_INCARNATION, [(1, Codec().encode_blob(Balance()))])
            with trio.fail_after(20):
                relay.hold()  # what bank writes waits: its buffer fills, then its outbox
                await flooder.tell(Flood(40))
                await trio.testing.wait_all_tasks_blocked(0.2)
                await publish_raw(
                    cluster_server, [(f"{prefix}.actor.bank.acct", ask + (7).to_bytes(8, "big"))]
                )
                await trio.testing.wait_all_tasks_blocked(0.2)  # bank has read it, answered
                relay.release()
                await wait_for(lambda: cluster.statistics().sent == 40)  # the flood is out
                await cluster.flush()
                assert cluster.statistics().unsent == 1
                relay.cut()
                await wait_for(lambda: not cluster.connected)
                relay.heal()
                await wait_for(lambda: cluster.statistics().reconnects == 1)
                assert cluster.statistics().unsent == 1
        nursery.cancel_scope.cancel()
