"""Review 26: consume() renewed an idle pull before the server's 408, and then again after it.

A stream took a pull whose end it had not heard of to be lost once
``expires`` passed on its own clock. Its clock starts before the server's
(when the pull is buffered), and the server's ``408 Request Timeout`` comes
after its own expiry, so on a live connection every idle pull was renewed
just before its 408 came; the 408 then took the old pull's count off the new
one, and the stream pulled again: two pulls waiting on the server, twice
``batch`` messages delivered to a stream that holds at most ``batch`` (the
rest of a worker pool starved meanwhile). Now an unheard end is assumed lost
2 s after ``expires``, as ``fetch`` does, and a 408 that comes renews once.
(Scripted: the fake server answers the first pull's expiry late.)
"""

from __future__ import annotations

import json

import pytest
import trio
from nats_fake import Peer, connected, fake_server, hmsg_frame, msg_frame

from trouper.nats import PullConsumer

pytestmark = pytest.mark.real_clock

_NEXT = "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker "
ACK = "$JS.ACK.ORDERS.worker.1.7.7.1700000000000000000.0"
EXPIRES = 0.2
LATE = 0.3
"""Seconds past the pull's expiry at which the fake server sends its 408."""


async def late_expiry(peer: Peer, seen: list[str]) -> None:
    """Take a pull; send its 408 LATE after its expiry; record pulls and the 408 in ``seen``.

    The first pull made after the 408 gets a message.
    """
    sids: dict[str, int] = {}
    expired = trio.Event()

    async def expire(inbox: str, batch: int) -> None:
        await trio.sleep(EXPIRES + LATE)
        seen.append("408")
        block = b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: %d\r\n\r\n" % batch
        await peer.send(hmsg_frame(inbox, sids[inbox], block, b""))
        expired.set()

    async with trio.open_nursery() as nursery:
        while True:
            line, payload = await peer.read_command()
            if line.startswith("SUB "):
                _, subject, sid = line.split()
                sids[subject] = int(sid)
            elif line.startswith(_NEXT):
                assert payload is not None
                batch = json.loads(payload)["batch"]
                seen.append(f"pull {batch}")
                inbox = line.split()[2]
                if len(seen) == 1:
                    nursery.start_soon(expire, inbox, batch)
                elif expired.is_set():
                    await peer.send(msg_frame("orders.new", sids[inbox], b"x", reply=ACK))
                    return


async def test_an_idle_pull_is_renewed_once_when_its_408_comes_late() -> None:
    """consume() waits for the 408 of a pull past its expiry, then pulls once, not twice."""
    seen: list[str] = []
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with (
                consumer.consume(batch=10, expires=EXPIRES) as messages,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(late_expiry, peer, seen)
                msg = await messages.next_msg()
    assert msg.data == b"x"
    assert seen == ["pull 10", "408", "pull 10"]
