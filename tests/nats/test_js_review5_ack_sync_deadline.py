"""Review 5: an ``ack_sync`` ended by its deadline leaves the message unsettled (scripted server).

The message was marked acknowledged before the request went out and stayed
so when the caller's deadline ended the wait: the caller saw the ack fail,
yet every later ack, nak or term was refused with ``AlreadyAcknowledged``,
so the message could be neither acked again nor given back.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import Peer, connected, fake_server, msg_frame

from trouper.nats import Client, JsMsg, PullConsumer

pytestmark = pytest.mark.real_clock

ACK = "$JS.ACK.ORDERS.worker.1.7.7.1700000000000000000.0"


async def _one_message(nc: Client, peer: Peer) -> JsMsg:
    """A message fetched from ``ORDERS/worker``, played by the scripted server."""
    consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
    got: list[JsMsg] = []

    async def fetch() -> None:
        got.extend(await consumer.fetch(1, expires=5.0))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fetch)
        _, _inbox, sid = (await peer.read_until("SUB ")).split()
        await peer.read_until("PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker ")
        await peer.send(msg_frame("orders.new", int(sid), b"x", reply=ACK))
    return got[0]


async def test_an_ack_sync_past_its_deadline_can_be_settled_again() -> None:
    """An ack_sync whose confirmation never came in time raises, and a later nak() is sent."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            msg = await _one_message(nc, peer)
            with pytest.raises(trio.TooSlowError):
                with trio.fail_after(0.2):
                    await msg.ack_sync()
            assert (await peer.read_until("PUB $JS.ACK")).startswith(f"PUB {ACK} _INBOX.")
            await msg.nak()
            assert (await peer.read_until("PUB $JS.ACK")) == f"PUB {ACK} 4"
