"""Review 2: a subscription refused while the client drains says so (scripted server)."""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, wait_for

from trouper.nats import ConnectionClosed, Status

pytestmark = pytest.mark.real_clock


async def test_subscribing_while_draining_says_the_client_is_draining() -> None:
    """``subscribe`` during ``drain()`` raises ``ConnectionClosed`` naming the drain."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(nc.drain)
            await wait_for(lambda: nc.status is Status.DRAINING)
            with pytest.raises(
                ConnectionClosed, match=r"^the client is draining: it takes no new subscriptions$"
            ):
                await nc.subscribe("late")
            for _ in range(2):  # the drain's UNSUBs, then what was published since
                await peer.read_until("PING")
                await peer.send(b"PONG\r\n")
