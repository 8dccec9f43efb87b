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
from remote_support import Account, Balance, nodes, wait_for

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
