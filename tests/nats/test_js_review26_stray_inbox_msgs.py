"""Review 26: a message on a pull's inbox that is no JetStream delivery was dropped silently.

Pulls (``fetch``, ``consume()``, ``feed``) read each message's metadata from
its ``$JS.ACK`` reply subject. A message with another reply, or none (a stray
publish to the inbox: the server sends no such delivery), was dropped
without a word; one whose ``$JS.ACK`` subject did not parse (a form the
client cannot read) too, so every delivery of such a server would have
vanished, delivered again until ``max_deliver`` and then lost. Now a stray
message is dropped and reported once per puller as
``AsyncError(JetStreamError)``, and an unreadable ``$JS.ACK`` subject ends the
pull, stream or feed with a ``JetStreamError`` saying so. (Scripted: the fake
server plays the pulls.)
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio
from nats_fake import Peer, connected, fake_server, msg_frame, wait_for

from trouper.nats import AsyncError, ClientEvent, JetStreamError, JsMsg, PullConsumer

pytestmark = pytest.mark.real_clock

_NEXT = "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker "
ACK = "$JS.ACK.ORDERS.worker.1.7.7.1700000000000000000.0"
BAD_ACK = "$JS.ACK.ORDERS.worker.1.7.x.1700000000000000000.0"
STRAY = (
    "a message on 'orders.new' with {how} came to a pull inbox of <PullConsumer ORDERS/worker>: "
    "not a JetStream delivery (those come with a $JS.ACK reply subject), dropped; "
    "later ones to this puller are dropped unreported"
)
UNREADABLE = (
    r"^JetStream error 0 \(0\): a delivery of <PullConsumer ORDERS/worker> on 'orders.new' "
    r"cannot be read: not a JetStream ack subject: '\$JS\.ACK\.ORDERS\.worker\.1\.7\.x\."
    r"1700000000000000000\.0' \(its numbers must be ASCII digits, got 'x'\)$"
)


async def answer_first_pull(peer: Peer, replies: Sequence[str | None]) -> None:
    """Read the inbox's SUB and the first pull; send a message on the inbox per reply given."""
    sids: dict[str, int] = {}
    while True:
        line, _ = await peer.read_command()
        if line.startswith("SUB "):
            _, subject, sid = line.split()
            sids[subject] = int(sid)
        elif line.startswith(_NEXT):
            inbox = line.split()[2]
            for n, reply in enumerate(replies):
                await peer.send(msg_frame("orders.new", sids[inbox], b"%d" % n, reply=reply))
            return


def strays(events: list[ClientEvent]) -> list[str]:
    """The texts of the JetStreamErrors reported as AsyncError."""
    return [
        str(event.error)
        for event in events
        if isinstance(event, AsyncError) and isinstance(event.error, JetStreamError)
    ]


@pytest.mark.parametrize(
    ("reply", "how"), [(None, "no reply subject"), ("my.reply", "reply 'my.reply'")]
)
async def test_fetch_reports_a_stray_message_once_and_returns_the_delivery(
    reply: str | None, how: str
) -> None:
    """fetch() drops two strays, reports the first as AsyncError, and returns the delivery."""
    events: list[ClientEvent] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(answer_first_pull, peer, [reply, reply, ACK])
            msgs = await PullConsumer(nc.jetstream(), "ORDERS", "worker").fetch(1)
    assert [(m.data, m.reply) for m in msgs] == [(b"2", ACK)]
    assert strays(events) == [f"JetStream error 0 (0): {STRAY.format(how=how)}"]


async def test_consume_reports_a_stray_message_once_and_hands_over_the_delivery() -> None:
    """consume() drops two strays, reports the first, and hands the delivery over."""
    events: list[ClientEvent] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(answer_first_pull, peer, [None, None, ACK])
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with consumer.consume(batch=10) as messages:
                msg = await messages.next_msg()
    assert (msg.data, msg.metadata.stream_seq) == (b"2", 7)
    assert strays(events) == [f"JetStream error 0 (0): {STRAY.format(how='no reply subject')}"]


async def test_a_feed_reports_a_stray_message_once_and_hands_over_the_delivery() -> None:
    """A PullFeed drops two strays, reports the first, and gives its callback the delivery."""
    events: list[ClientEvent] = []
    got: list[JsMsg] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(answer_first_pull, peer, ["my.reply", "my.reply", ACK])
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(got.append)
            feed.pull(10)
            await wait_for(lambda: bool(got))
            feed.close()
    assert [m.data for m in got] == [b"2"]
    assert feed.requested == 9  # the strays were not counted as deliveries
    stray = STRAY.format(how="reply 'my.reply'")
    assert strays(events) == [f"JetStream error 0 (0): {stray}"]


async def test_fetch_raises_for_a_delivery_whose_ack_subject_cannot_be_read() -> None:
    """fetch() raises JetStreamError naming the unreadable $JS.ACK subject."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(answer_first_pull, peer, [BAD_ACK])
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            with pytest.raises(JetStreamError, match=UNREADABLE):
                await consumer.fetch(1, expires=30)


async def test_consume_ends_with_a_delivery_whose_ack_subject_cannot_be_read() -> None:
    """consume()'s reader raises JetStreamError naming the unreadable $JS.ACK subject."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(answer_first_pull, peer, [BAD_ACK])
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with consumer.consume(batch=10, expires=30) as messages:
                with pytest.raises(JetStreamError, match=UNREADABLE):
                    await messages.next_msg()


async def test_a_feed_ends_with_a_delivery_whose_ack_subject_cannot_be_read() -> None:
    """A PullFeed's wait() raises JetStreamError naming the unreadable $JS.ACK subject."""
    got: list[JsMsg] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(answer_first_pull, peer, [BAD_ACK])
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(got.append, expires=30)
            feed.pull(10)
            with pytest.raises(JetStreamError, match=UNREADABLE):
                await feed.wait()
            feed.close()
    assert got == []
