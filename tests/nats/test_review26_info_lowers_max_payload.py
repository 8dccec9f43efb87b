"""Review 26: an INFO that lowers ``max_payload`` while connected also covers what is buffered.

The server may send INFO at any time (a cluster change, a configuration
reload). The client took the new ``max_payload`` for the publishes made
after it, but the ones already in its write buffer (waiting for a socket
the server was slow to read) had been checked against the old limit and
went out as they were: the server answered the first with the fatal
``-ERR 'Maximum Payload Violation'`` and closed the connection, losing what
its socket had taken after it. Those still buffered when the INFO is read
are now dropped as at a reconnect (review 25): a request fails with
``MaxPayloadExceeded``, a plain publish is reported as
``AsyncError(MaxPayloadExceeded)``, the rest goes out on a connection that
stays up. (Bytes the socket had taken before the INFO was read are the
server's to judge: no client can call them back.)
"""

from __future__ import annotations

import json

import pytest
import trio
from nats_fake import connected, fake_server, msg_frame, wait_for

from trouper.nats import (
    AsyncError,
    Client,
    ClientEvent,
    MaxPayloadExceeded,
    Msg,
    OutboundBufferFull,
    Status,
    connect,
)

pytestmark = pytest.mark.real_clock


def _fill(nc: Client, first: int) -> int:
    """Publish 2000-byte messages big.<first>, big.<first + 1>... until the buffer is full.

    Returns the number the next one would have.
    """
    number = first
    while True:
        try:
            nc.publish_nowait(f"big.{number}", b"x" * 2000)
        except OutboundBufferFull:
            return number
        number += 1


async def test_buffered_publishes_over_a_lowered_max_payload_are_dropped_and_reported() -> None:
    """Big publishes still buffered never reach the server; small ones after them do."""
    events: list[ClientEvent] = []
    outcomes: dict[str, object] = {}

    async def ask(name: str, subject: str, payload: bytes) -> None:
        try:
            outcomes[name] = await nc.request(subject, payload)
        except Exception as error:
            outcomes[name] = error

    with trio.fail_after(20):
        async with (
            fake_server() as server,
            trio.open_nursery() as nursery,
            connected(server, on_event=events.append, write_buffer_size=64 * 1024) as (nc, peer),
        ):
            # The peer reads nothing. The writer takes the whole write buffer each time
            # it sends; once the socket is full it waits with what it took, and what
            # is published next stays in the write buffer.
            big = 0
            while True:
                big = _fill(nc, big)
                await trio.sleep(0.02)
                if nc.statistics().buffered_bytes:
                    break
            before = nc.statistics().buffered_bytes
            nursery.start_soon(ask, "big request", "huge.req", b"y" * 2000)
            await wait_for(lambda: nc.statistics().buffered_bytes > before)
            before = nc.statistics().buffered_bytes
            nursery.start_soon(ask, "small request", "small.req", b"r")
            await wait_for(lambda: nc.statistics().buffered_bytes > before)
            assert nc.statistics().buffered_bytes > 64 * 1024

            info = {"server_id": "FAKE", "max_payload": 1024}
            await peer.send(b"INFO " + json.dumps(info).encode() + b"\r\n")
            await wait_for(lambda: nc.max_payload == 1024)
            await nc.publish("small.last", b"s")

            received: list[str] = []
            inbox_sid = request_reply = ""
            while True:
                line, payload = await peer.read_command()
                if line.startswith("SUB _INBOX."):
                    inbox_sid = line.split()[-1]
                elif line.startswith("PUB big"):
                    received.append(line.split()[1])
                    assert payload is not None
                elif line.startswith("PUB huge.req "):
                    received.append("huge.req")
                elif line.startswith("PUB small.req "):
                    request_reply = line.split()[2]
                elif line.startswith("PUB small.last "):
                    break
            await peer.send(msg_frame(request_reply, int(inbox_sid), b"answer"))
            await wait_for(lambda: "small request" in outcomes)
            assert nc.status is Status.CONNECTED
            stats = nc.statistics()
            await nc.close()  # (a request still waiting fails with ConnectionClosed)
            await wait_for(lambda: "big request" in outcomes)
    dropped = [
        event.error
        for event in events
        if isinstance(event, AsyncError) and isinstance(event.error, MaxPayloadExceeded)
    ]
    # What the writer had taken before the INFO was read went out; what was left was
    # dropped, each once.
    assert received == [f"big.{n}" for n in range(len(received))]
    assert len(dropped) == big - len(received) > 0
    assert all(error.args == (2000, 1024) for error in dropped)
    big_request = outcomes["big request"]
    assert isinstance(big_request, MaxPayloadExceeded)
    assert big_request.args == (2000, 1024)
    # What was dropped is not counted as published (test_review26_out_msgs.py).
    assert (stats.out_msgs, stats.out_bytes) == (len(received) + 2, 2000 * len(received) + 2)
    small_request = outcomes["small request"]
    assert isinstance(small_request, Msg)
    assert small_request.data == b"answer"


async def test_a_command_begun_on_the_wire_is_left_whole_when_the_limit_drops() -> None:
    """The INFO comes while a publish is part sent: it goes out whole, the big one after it not."""
    events: list[ClientEvent] = []
    huge = 32 * 1024 * 1024  # more than the socket takes in one send

    def trigger(msg: Msg) -> None:
        nc.publish_nowait("huge", b"H" * huge)  # sent at once, in part: the rest is buffered
        nc.publish_nowait("big", b"x" * 2000)
        nc.publish_nowait("small", b"s")

    with trio.fail_after(20):
        async with fake_server() as server, trio.open_nursery() as nursery:
            peers = []

            async def serve() -> None:
                peer = await server.accept()
                await peer.handshake(max_payload=64 * 1024 * 1024)
                peers.append(peer)

            nursery.start_soon(serve)
            async with connect(
                server.url, on_event=events.append, write_buffer_size=128 * 1024 * 1024
            ) as nc:
                await wait_for(lambda: bool(peers))
                peer = peers[0]
                sub = await nc.subscribe("trigger", callback=trigger)
                await peer.read_until("SUB trigger")
                info = {"server_id": "FAKE", "max_payload": 1024}
                # One receive: the callback publishes, then the reader reads the INFO.
                await peer.send(
                    msg_frame("trigger", sub.sid, b"go")
                    + b"INFO "
                    + json.dumps(info).encode()
                    + b"\r\n"
                )
                line, payload = await peer.read_command()
                assert line == f"PUB huge {huge}"
                assert payload == b"H" * huge
                assert (await peer.read_command()) == ("PUB small 1", b"s")
                assert nc.status is Status.CONNECTED
                await nc.close()
    dropped = [event.error for event in events if isinstance(event, AsyncError)]
    assert [type(error) for error in dropped] == [MaxPayloadExceeded]
    assert dropped[0].args == (2000, 1024)
