"""Requests answered by a callback whose reply never comes are failed after ``reply_timeout``."""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, msg_frame, wait_for

from trouper.nats import Msg, NatsError, PubAck, ReplyTimeout, connect

pytestmark = pytest.mark.real_clock


async def test_publish_soon_never_answered_fails_once_with_reply_timeout() -> None:
    """An acknowledged publish the server never answers hears ReplyTimeout once, not a late ack."""
    acks: list[PubAck | NatsError] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reply_timeout=0.05) as (nc, peer),
        ):
            nc.jetstream().publish_soon("s.x", b"body", acks.append)
            line = await peer.read_until("PUB s.x")
            await wait_for(lambda: bool(acks))
            # The reply comes after all: nobody takes it any more.
            await peer.send(msg_frame(line.split()[2], 1, b'{"stream":"S","seq":1}'))
            sub = await nc.subscribe("sync")
            await peer.read_until("SUB sync")
            await peer.send(msg_frame("sync", sub.sid, b""))
            await sub.next_msg()
    assert len(acks) == 1
    assert isinstance(acks[0], ReplyTimeout)
    assert isinstance(acks[0], TimeoutError)
    assert str(acks[0]) == "no reply to a request on 's.x' within 0.05 s"


async def test_request_outlives_reply_timeout() -> None:
    """A request() waits on its caller's deadline alone, past reply_timeout."""
    acks: list[PubAck | NatsError] = []
    answers: list[Msg] = []
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reply_timeout=0.05) as (nc, peer),
            trio.open_nursery() as nursery,
        ):

            async def ask() -> None:
                answers.append(await nc.request("service", b"?"))

            nursery.start_soon(ask)
            asked = await peer.read_until("PUB service")
            nc.jetstream().publish_soon("s.x", b"body", acks.append)
            await peer.read_until("PUB s.x")
            # Written after the request, the publish timed out: the request waited longer.
            await wait_for(lambda: bool(acks))
            await peer.send(msg_frame(asked.split()[2], 1, b"!"))
            await wait_for(lambda: bool(answers))
    assert isinstance(acks[0], ReplyTimeout)
    assert answers[0].data == b"!"


@pytest.mark.parametrize("bad", [0, -1.0, "5", True])
async def test_reply_timeout_must_be_positive_seconds(bad: object) -> None:
    """reply_timeout of 0, below 0 or not a number is refused by connect()."""
    with pytest.raises(ValueError, match=r"^reply_timeout must be seconds > 0, got "):
        async with connect("nats://127.0.0.1:1", reply_timeout=bad):  # type: ignore[arg-type]
            pass
