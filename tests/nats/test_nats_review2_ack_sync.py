"""Review 2: an ``ack_sync`` that sent nothing leaves the message unsettled (scripted server)."""

from __future__ import annotations

import pytest
import trio
from nats_fake import Peer, connected, fake_server, msg_frame, wait_for

from trouper.nats import Client, JsMsg, OutboundBufferFull, PullConsumer, Status

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


async def test_an_ack_sync_refused_for_room_can_be_sent_again() -> None:
    """``OutboundBufferFull`` from ``ack_sync`` sent no ack: a later ack is sent, not refused."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(
                server, reconnect_wait=0.01, reconnect_jitter=0.0, reconnect_buffer_size=0
            ) as (nc, peer),
        ):
            msg = await _one_message(nc, peer)
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            with pytest.raises(OutboundBufferFull):
                await msg.ack_sync()
            second = await server.accept()
            await second.handshake()
            await wait_for(lambda: nc.status is Status.CONNECTED)
            await msg.ack()
            assert (await second.read_until("PUB $JS.ACK")) == f"PUB {ACK} 4"
