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
from nats_fake import Peer, connected, fake_server, hmsg_frame, msg_frame, wait_for

from trouper.nats import JsMsg, PullConsumer

pytestmark = pytest.mark.real_clock

_NEXT = "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker "
_INFO = "PUB $JS.API.CONSUMER.INFO.ORDERS.worker "
ACK = "$JS.ACK.ORDERS.worker.1.7.7.1700000000000000000.0"
INFO = {"stream_name": "ORDERS", "name": "worker", "config": {"durable_name": "worker"}}


async def no_responder_then_serve(peer: Peer, asked: list[str]) -> None:
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
                nursery.start_soon(no_responder_then_serve, peer, asked)
                msg = await messages.next_msg()
    assert msg.data == b"x"
    assert asked == ["pull", "info", "pull"]


async def test_a_feed_pulls_again_after_a_pause_after_a_503_when_the_consumer_exists() -> None:
    """A PullFeed's wait() asks for the consumer after a 503, returns after 50 ms; it reads."""
    asked: list[str] = []
    got: list[JsMsg] = []
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(got.append, expires=30)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(no_responder_then_serve, peer, asked)
                pulled = trio.current_time()
                feed.pull(10)
                await feed.wait()
                woken = trio.current_time()
                assert feed.requested == 0
                feed.pull(10)
                await wait_for(lambda: bool(got))
            feed.close()
    assert asked == ["pull", "info", "pull"]
    assert [m.data for m in got] == [b"x"]
    assert woken - pulled >= 0.05  # the pause of a first refusal
