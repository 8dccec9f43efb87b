"""Review 5: a pull refused for now is asked again after a pause, not at once (scripted server).

A 409 ``Exceeded MaxWaiting`` (too many pulls wait on the consumer) or, from
servers before 2.7, ``Exceeded MaxAckPending`` ends one pull, and the next
may be taken. A ``PullFeed`` asked again at once, refused again at once: a
busy loop against the server, thousands of pulls a second. ``consume()``
asked again only when the refused pull would have expired (30 s by
default), idle all that while. Both now pause 50 ms, doubling with each
refusal in a row up to 1 s, and pull again.
"""

from __future__ import annotations

import itertools

import pytest
import trio
from nats_fake import Peer, connected, fake_server, hmsg_frame, msg_frame, wait_for

from trouper.nats import JsMsg, PullConsumer

pytestmark = pytest.mark.real_clock

_NEXT = "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker "
ACK = "$JS.ACK.ORDERS.worker.1.7.7.1700000000000000000.0"
REFUSALS = ["Exceeded MaxWaiting", "Exceeded MaxAckPending"]


async def _refuse_then_serve(peer: Peer, refusal: str, refused: int) -> list[float]:
    """Answer the first ``refused`` pulls with a 409 ``refusal``, the next with a message.

    Returns the times of the pulls.
    """
    sids: dict[str, int] = {}
    times: list[float] = []
    while True:
        line, _ = await peer.read_command()
        if line.startswith("SUB "):
            _, subject, sid = line.split()
            sids[subject] = int(sid)
        if not line.startswith(_NEXT):
            continue
        times.append(trio.current_time())
        inbox = line.split()[2]
        if len(times) <= refused:
            block = f"NATS/1.0 409 {refusal}\r\n\r\n".encode()
            await peer.send(hmsg_frame(inbox, sids[inbox], block, b""))
        else:
            await peer.send(msg_frame("orders.new", sids[inbox], b"x", reply=ACK))
            return times


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_a_feed_pauses_before_pulling_again_after_a_refusal(refusal: str) -> None:
    """Three refused pulls in a row are asked again 50, 100 and 200 ms later; the fourth serves."""
    got: list[JsMsg] = []
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(got.append, expires=5)

            async def owner() -> None:
                feed.pull(10)
                while True:
                    await feed.wait()
                    if feed.requested == 0:
                        feed.pull(10)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(owner)
                times = await _refuse_then_serve(peer, refusal, refused=3)
                await wait_for(lambda: bool(got))
                nursery.cancel_scope.cancel()
            feed.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert [gap >= pause for gap, pause in zip(gaps, [0.05, 0.1, 0.2], strict=True)] == [True] * 3
    assert [m.data for m in got] == [b"x"]


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_consume_pulls_again_after_a_pause_not_at_the_pulls_expiry(refusal: str) -> None:
    """consume() with 30 s pulls takes a message after three refusals well within a second."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with (
                consumer.consume(batch=10, expires=30) as messages,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(_refuse_then_serve, peer, refusal, 3)
                msg = await messages.next_msg()
    assert msg.data == b"x"
