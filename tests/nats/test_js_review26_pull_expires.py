"""Review 26: a pull's ``expires`` beyond the server's int64 nanoseconds went to the server.

``fetch``, ``consume()`` and ``feed`` took any finite ``expires`` > 0; one
past about 292 years was sent and refused by the server as a bad request
(``400 Bad Request - json: cannot unmarshal number ...``), after a round
trip, and a feed ended at its first pull. Every other duration is refused
before anything is sent (``ConsumerConfig``, a NAK delay): so are these now.
"""

from __future__ import annotations

import math
import re

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import JsMsg, PullConsumer

pytestmark = pytest.mark.real_clock

LONGEST = (2**63 - 1) // 1_000_000_000


def message(expires: float) -> str:
    """The ValueError's text for ``expires``, as a pattern."""
    return (
        "^"
        + re.escape(
            f"expires must be seconds > 0 and at most {LONGEST} "
            f"(the server's int64 nanoseconds), got {expires!r}"
        )
        + "$"
    )


def ignore(msg: JsMsg) -> None:
    """A feed's callback that takes nothing."""


@pytest.mark.parametrize("expires", [1e12, LONGEST + 1, math.inf, math.nan, 0.0, -1.0])
async def test_fetch_consume_and_feed_refuse_an_expires_the_server_cannot_hold(
    expires: float,
) -> None:
    """Each raises ValueError before sending; the fake server sees no pull."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            with pytest.raises(ValueError, match=message(expires)):
                await consumer.fetch(1, expires=expires)
            with pytest.raises(ValueError, match=message(expires)):
                async with consumer.consume(expires=expires):
                    pass
            with pytest.raises(ValueError, match=message(expires)):
                consumer.feed(ignore, expires=expires, heartbeat=1.0)
            await nc.publish("done", b"")
            assert (await peer.read_until("PUB ")).startswith("PUB done ")


async def test_the_longest_expires_is_taken() -> None:
    """expires of exactly 9223372036 s goes out as that many seconds of nanoseconds."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            feed = consumer.feed(ignore, expires=LONGEST, heartbeat=5.0)
            feed.pull(1)
            line, payload = await peer.read_command()
            while not line.startswith("PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker "):
                line, payload = await peer.read_command()
            feed.close()
    assert payload is not None
    assert b'"expires":%d,' % (LONGEST * 1_000_000_000) in payload
