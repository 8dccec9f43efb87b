"""A scripted NATS server for what a real one cannot be made to send.

``fake_server()`` listens on 127.0.0.1; each connection the client makes is
handed to the test as a ``Peer``, through which the test plays the server:
it sends exact bytes and reads the client's commands.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.lowlevel

from trouper.nats import Client, ClientEvent, JetStream, Msg, Status, Subscription, connect
from trouper.nats.protocol import Event, Parser

DEFAULT_INFO: dict[str, object] = {
    "server_id": "FAKE",
    "server_name": "fake",
    "version": "2.10.0",
    "proto": 1,
    "host": "127.0.0.1",
    "port": 4222,
    "headers": True,
    "max_payload": 1048576,
}


def msg_frame(subject: str, sid: int, payload: bytes, reply: str | None = None) -> bytes:
    """A whole MSG frame, as the server sends it."""
    head = f"MSG {subject} {sid} {reply + ' ' if reply else ''}{len(payload)}\r\n"
    return head.encode() + payload + b"\r\n"


def hmsg_frame(
    subject: str, sid: int, header_block: bytes, payload: bytes, reply: str | None = None
) -> bytes:
    """A whole HMSG frame; ``header_block`` must end with its blank line."""
    sizes = f"{len(header_block)} {len(header_block) + len(payload)}"
    head = f"HMSG {subject} {sid} {reply + ' ' if reply else ''}{sizes}\r\n"
    return head.encode() + header_block + payload + b"\r\n"


def parse_split(data: bytes, cut: int, **parser_options: int) -> list[Event]:
    """What a ``Parser(**parser_options)`` reads of ``data`` fed in two reads cut at ``cut``."""
    parser = Parser(**parser_options)
    events: list[Event] = []
    for chunk in (data[:cut], data[cut:]):
        parser.feed(chunk)
        while (event := parser.next_event()) is not None:
            events.append(event)
    return events


class Peer:
    """One client connection, seen from the server's side."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = bytearray()

    async def send(self, data: bytes) -> None:
        """Send exact bytes."""
        await self.stream.send_all(data)

    async def send_bytewise(self, data: bytes) -> None:
        """Send ``data`` one byte per ``send_all``, so every split point happens."""
        for i in range(len(data)):
            await self.stream.send_all(data[i : i + 1])

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError("the client closed the connection")
        self._buffer += data

    async def read_line(self) -> str:
        """The next line the client sent, without its CRLF."""
        while b"\r\n" not in self._buffer:
            await self._fill()
        line, _, rest = bytes(self._buffer).partition(b"\r\n")
        self._buffer = bytearray(rest)
        return line.decode()

    async def read_exact(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        while len(self._buffer) < size:
            await self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def read_command(self) -> tuple[str, bytes | None]:
        """The next command line, and the payload of a PUB/HPUB (its CRLF dropped)."""
        line = await self.read_line()
        op = line.split(" ", 1)[0]
        if op in ("PUB", "HPUB"):
            size = int(line.split()[-1])
            payload = await self.read_exact(size + 2)
            return line, payload[:-2]
        return line, None

    async def read_until(self, prefix: str) -> str:
        """Skip commands until one starting with ``prefix``; return its line."""
        while True:
            line, _ = await self.read_command()
            if line.startswith(prefix):
                return line

    async def handshake(self, **info: object) -> dict[str, object]:
        """Send INFO, read CONNECT and PING, answer PONG; return the CONNECT options."""
        await self.send(b"INFO " + json.dumps({**DEFAULT_INFO, **info}).encode() + b"\r\n")
        line = await self.read_line()
        assert line.startswith("CONNECT "), line
        options: dict[str, object] = json.loads(line[len("CONNECT ") :])
        assert await self.read_line() == "PING"
        await self.send(b"PONG\r\n")
        return options

    async def close(self) -> None:
        """Drop the connection."""
        await self.stream.aclose()


class FakeServer:
    """Listens on 127.0.0.1; ``accept()`` gives the next connection the client made."""

    def __init__(self, listener: trio.SocketListener) -> None:
        self.listener = listener
        self.port: int = listener.socket.getsockname()[1]
        self.peers: list[Peer] = []

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>``."""
        return f"nats://127.0.0.1:{self.port}"

    async def accept(self) -> Peer:
        """Wait for the client's next connection."""
        peer = Peer(await self.listener.accept())
        self.peers.append(peer)
        return peer

    async def close(self) -> None:
        """Stop listening: further connections are refused."""
        await self.listener.aclose()


@asynccontextmanager
async def fake_server() -> AsyncIterator[FakeServer]:
    """A fake server listening on a free loopback port while the block runs."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    server = FakeServer(listeners[0])
    try:
        yield server
    finally:
        await server.listener.aclose()
        for peer in server.peers:
            await trio.aclose_forcefully(peer.stream)


@asynccontextmanager
async def connected(server: FakeServer, **options: Any) -> AsyncIterator[tuple[Client, Peer]]:
    """``connect()`` to the fake server, playing its side of the handshake; yield both ends."""
    peer: list[Peer] = []

    async def serve() -> None:
        accepted = await server.accept()
        await accepted.handshake()
        peer.append(accepted)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with connect(server.url, **options) as client:
            with trio.fail_after(5):
                while not peer:
                    await trio.lowlevel.checkpoint()
            yield client, peer[0]


async def next_msg_after_replacement(
    bad_frame: Callable[[int], bytes],
) -> tuple[Msg, list[ClientEvent]]:
    """The message a subscriber to ``x`` gets once its connection sent ``bad_frame(sid)``.

    The fake server sends ``bad_frame`` (given the subscription's sid) on the
    first connection, then, on the connection the client makes next, a message
    "after" to ``x``. Returns that message and the events the client reported
    (bounded: 10 s).
    """
    events: list[ClientEvent] = []
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(
                server, on_event=events.append, reconnect_wait=0.01, reconnect_jitter=0.0
            ) as (nc, peer),
        ):
            sub = await nc.subscribe("x")
            await peer.read_until("SUB")
            await peer.send(bad_frame(sub.sid))
            second = await server.accept()
            await second.handshake()
            assert await second.read_until("SUB") == f"SUB x {sub.sid}"
            await second.send(f"MSG x {sub.sid} 5\r\nafter\r\n".encode())
            msg = await sub.next_msg()
    return msg, events


async def api_call_outcome(
    call: Callable[[JetStream], Awaitable[object]], request: str, answer: bytes
) -> tuple[list[Exception], Status]:
    """What a JetStream API ``call`` raised when the fake server answered it ``answer``.

    The server reads the client's inbox subscription and the request (its
    line starts with ``request``), then answers it. Returns the errors the call
    raised (none or one) and the client's status once it ended (bounded: 10 s).
    """
    outcome: list[Exception] = []
    with trio.fail_after(10):
        async with fake_server() as server, connected(server) as (nc, peer):
            async with trio.open_nursery() as nursery:

                async def run() -> None:
                    try:
                        await call(nc.jetstream())
                    except Exception as error:
                        outcome.append(error)

                nursery.start_soon(run)
                inbox_sid = (await peer.read_until("SUB _INBOX.")).split()[-1]
                reply = (await peer.read_until(request)).split()[2]
                await peer.send(
                    f"MSG {reply} {inbox_sid} {len(answer)}\r\n".encode() + answer + b"\r\n"
                )
            status = nc.status
    return outcome, status


async def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` until it holds (bound the call with a deadline).

    For state changed by another process (a server restarting) or by the
    client's background tasks, which no event of ours signals.
    """
    while not predicate():  # noqa: ASYNC110 - the state comes from outside this task
        await trio.sleep(0.001)


async def unread_work(nc: Client, peer: Peer, payload: bytes) -> Subscription:
    """A subscription to "work" holding one unread message, ``payload`` (what a drain waits for)."""
    sub = await nc.subscribe("work")
    await peer.read_until("SUB work")
    await peer.send(msg_frame("work", sub.sid, payload))
    await wait_for(lambda: sub.statistics().pending_msgs == 1)
    return sub


async def drain_into(nc: Client, outcome: list[object]) -> None:
    """Run ``drain()`` and record how it ended (``"drained"``, or the error)."""
    try:
        await nc.drain()
    except Exception as error:
        outcome.append(error)
    else:
        outcome.append("drained")


async def close_into(nc: Client, outcome: list[object]) -> None:
    """Run ``close()`` and record how it ended (``"closed"``, or the error)."""
    try:
        await nc.close()
    except Exception as error:
        outcome.append(error)
    else:
        outcome.append("closed")
