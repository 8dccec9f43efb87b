"""Review 12: a connection that drops while a node joins (a scripted server).

The client reconnects by itself and makes the node's subscriptions again,
so a drop while the node checks its name or waits for the server to have
its subscriptions is waited out: the node joins once reconnected. It made
``open_runtime`` fail with ``ConnectionLost``.
"""

from __future__ import annotations

import json
from contextlib import suppress

import pytest
import trio

import trouper
from trouper.remote import Nats, cluster_of

pytestmark = pytest.mark.real_clock

INFO = {"server_id": "FAKE", "version": "2.10.0", "proto": 1, "headers": True}
NO_RESPONDERS = b"NATS/1.0 503\r\n\r\n"


class Connection:
    """One connection of the node's client, seen from the (scripted) server."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def line(self) -> str:
        while b"\r\n" not in self.buffer:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode()

    async def command(self) -> str:
        """The next command line (a PUB's payload is read and dropped)."""
        line = await self.line()
        if line.startswith(("PUB ", "HPUB ")):
            size = int(line.split()[-1]) + 2
            while len(self.buffer) < size:
                self.buffer += await self.stream.receive_some(65536)
            self.buffer = self.buffer[size:]
        return line

    async def handshake(self) -> None:
        await self.stream.send_all(b"INFO " + json.dumps(INFO).encode() + b"\r\n")
        assert (await self.line()).startswith("CONNECT ")
        assert await self.line() == "PING"
        await self.stream.send_all(b"PONG\r\n")


async def serve(listener: trio.SocketListener, drop_at: str) -> None:
    """Serve the node: no other node answers its whois; drop the first connection at ``drop_at``.

    ``drop_at`` is ``"whois"`` (once the name check is written) or ``"flush"`` (at the
    PING that follows the node's subscriptions). Later connections are served as a
    quiet cluster would: every PING answered, every whois answered "no responders".
    """
    first = True
    while True:
        connection = Connection(await listener.accept())
        await connection.handshake()
        inbox_sid = "0"
        with suppress(EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
            while True:
                line = await connection.command()
                if line.startswith("SUB _INBOX."):
                    inbox_sid = line.split()[-1]
                elif line.startswith("PUB ") and ".node." in line and len(line.split()) == 4:
                    if first and drop_at == "whois":
                        break
                    reply = line.split()[2]
                    head = f"HMSG {reply} {inbox_sid} {len(NO_RESPONDERS)} {len(NO_RESPONDERS)}"
                    await connection.stream.send_all(
                        head.encode() + b"\r\n" + NO_RESPONDERS + b"\r\n"
                    )
                elif line == "PING":
                    if first and drop_at == "flush":
                        break
                    await connection.stream.send_all(b"PONG\r\n")
        first = False
        await trio.aclose_forcefully(connection.stream)


@pytest.mark.parametrize("drop_at", ["whois", "flush"])
async def test_a_drop_while_joining_is_waited_out(drop_at: str) -> None:
    """The node joins after the reconnect instead of failing with ConnectionLost."""
    with trio.fail_after(10):
        [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listener.socket.getsockname()[1]
        transport = Nats(
            f"nats://127.0.0.1:{port}", prefix="t", heartbeat=30.0, reconnect_wait=0.01
        )
        async with listener, trio.open_nursery() as nursery:
            nursery.start_soon(serve, listener, drop_at)
            async with trouper.open_runtime(node="bank", transport=transport) as rt:
                cluster = cluster_of(rt)
                assert cluster.joined
                assert cluster.statistics().reconnects == 1
            nursery.cancel_scope.cancel()
