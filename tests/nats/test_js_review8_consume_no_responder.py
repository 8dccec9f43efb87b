"""Review 8: a pull with no responder while the consumer exists is asked again soon (scripted).

A 503 to a pull also comes while a clustered consumer has no leader (one is
being elected): the consumer exists and the next pull may be served. The
stream asks the server whether the consumer is there; it is, so it pulls
again after the pause it makes after a pull refused for now, instead of
waiting out the unanswered pull's expiry (30 s here).
"""

from __future__ import annotations

import json

import pytest
import trio
from nats_fake import Peer, connected, fake_server, hmsg_frame, msg_frame

from trouper.nats import PullConsumer

pytestmark = pytest.mark.real_clock

_NEXT = "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker "
_INFO = "PUB $JS.API.CONSUMER.INFO.ORDERS.worker "
ACK = "$JS.ACK.ORDERS.worker.1.7.7.1700000000000000000.0"
INFO = {"stream_name": "ORDERS", "name": "worker", "config": {"durable_name": "worker"}}


async def _no_responder_then_serve(peer: Peer, asked: list[str]) -> None:
    """Answer the first pull with a 503, the consumer's info with itself, the next pull with one."""
    sids: dict[str, int] = {}
    pulls = 0
    while True:
        line, _ = await peer.read_command()
        if line.startswith("SUB "):
            _, subject, sid = line.split()
            sids[subject] = int(sid)
        elif line.startswith(_INFO):
            asked.append("info")
            reply = line.split()[2]
            mux = sids[reply.rsplit(".", 1)[0] + ".*"]
            await peer.send(msg_frame(reply, mux, json.dumps(INFO).encode()))
        elif line.startswith(_NEXT):
            asked.append("pull")
            pulls += 1
            inbox = line.split()[2]
            if pulls == 1:
                await peer.send(hmsg_frame(inbox, sids[inbox], b"NATS/1.0 503\r\n\r\n", b""))
            else:
                await peer.send(msg_frame("orders.new", sids[inbox], b"x", reply=ACK))
                return


async def test_consume_pulls_again_soon_after_a_503_when_the_consumer_exists() -> None:
    """consume() with 30 s pulls asks for the consumer after a 503, then pulls again and reads."""
    asked: list[str] = []
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with (
                consumer.consume(batch=10, expires=30) as messages,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(_no_responder_then_serve, peer, asked)
                msg = await messages.next_msg()
    assert msg.data == b"x"
    assert asked == ["pull", "info", "pull"]
