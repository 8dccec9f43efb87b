"""Review 25: an unreadable ``Nats-Pending-Messages`` count releases the whole pull.

A pull that ends (404/408) says in ``Nats-Pending-Messages`` how many of the
messages it asked for it released unsent; without that header, or with one
that cannot be read, the pull is taken to have released all it asked. The
count went through ``int()``, which also reads ``-5`` (so a feed's
``requested`` grew past what it had asked: 10 asked, 15 counted), ``1_0``
and digits of other scripts. Only ASCII digits make a count now.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, hmsg_frame

from trouper.nats import PullConsumer

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize("count", ["-5", "\u0663", "0_5"], ids=["negative", "arabic", "underscore"])
async def test_an_unreadable_pending_count_releases_the_whole_pull(count: str) -> None:
    """A feed that asked for 10 has none requested once the pull ended with such a count."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(
                lambda msg: None, expires=5
            )
            feed.pull(10)
            inbox_sid = int((await peer.read_until("SUB _INBOX.")).split()[-1])
            inbox = (await peer.read_until("PUB $JS.API.CONSUMER.MSG.NEXT.")).split()[2]
            block = (
                f"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: {count}\r\n"
                "Nats-Pending-Bytes: 0\r\n\r\n"
            ).encode()
            await peer.send(hmsg_frame(inbox, inbox_sid, block, b""))
            await feed.wait()
            requested = feed.requested
            feed.close()
    assert requested == 0


async def test_a_readable_pending_count_releases_that_many() -> None:
    """A count it can read is kept: a pull of 10 that ended with 4 pending leaves 6 requested."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            stream = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            feed = stream.feed(lambda msg: None, expires=5)
            feed.pull(10)
            inbox_sid = int((await peer.read_until("SUB _INBOX.")).split()[-1])
            inbox = (await peer.read_until("PUB $JS.API.CONSUMER.MSG.NEXT.")).split()[2]
            block = b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 4\r\n\r\n"
            await peer.send(hmsg_frame(inbox, inbox_sid, block, b""))
            await feed.wait()
            requested = feed.requested
            feed.close()
    assert requested == 6
