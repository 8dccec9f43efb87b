"""Review 12: a request made while ``drain()`` runs, the client's first.

The drain lets the subscriptions' buffered messages be read, and the code
reading them answers, acks, publishes to JetStream: requests. The reply
subscription they share is not the user's (the drain leaves it up until the
close), so making it then is no new subscription the drain refuses.
"""

from __future__ import annotations

import contextlib

import pytest
import trio
from nats_fake import connected, drain_into, fake_server, msg_frame, unread_work, wait_for

pytestmark = pytest.mark.real_clock


async def test_first_request_during_drain_gets_its_reply() -> None:
    """A handler's first request while the drain waits for it: sent, and answered."""
    drained: list[object] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            sub = await unread_work(nc, peer, b"job")
            nursery.start_soon(drain_into, nc, drained)
            await peer.read_until("UNSUB")
            await peer.read_until("PING")
            await peer.send(b"PONG\r\n")
            job = await sub.next_msg()  # the drain waits for it to be read

            async def serve() -> None:
                """Answer PINGs, and each request on "store" with "stored", until the close."""
                inbox_sid = 0
                with contextlib.suppress(EOFError):
                    while True:
                        line, _ = await peer.read_command()
                        if line == "PING":
                            await peer.send(b"PONG\r\n")
                        elif line.startswith("SUB "):
                            inbox_sid = int(line.split()[-1])
                        elif line.startswith("PUB store "):
                            await peer.send(msg_frame(line.split()[2], inbox_sid, b"stored"))

            nursery.start_soon(serve)
            answer = await nc.request("store", job.data)
            assert answer.data == b"stored"
            await wait_for(lambda: bool(drained))
    assert drained == ["drained"]
