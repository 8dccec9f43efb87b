"""The server's ``maximum subscriptions exceeded`` keeps the connection: reported, not fatal."""

from __future__ import annotations

import pytest
import trio

from trouper.nats import AsyncError, ClientEvent, ServerError, connect
from trouper.nats.protocol import is_fatal
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def test_maximum_subscriptions_exceeded_is_not_fatal() -> None:
    """nats-server refuses the SUB over its limit and keeps the connection open."""
    assert not is_fatal("maximum subscriptions exceeded")


async def test_subscription_over_the_limit_is_reported_and_the_connection_stays() -> None:
    """A SUB over the server's max_subscriptions is an AsyncError; no reconnect, the rest work."""
    events: list[ClientEvent] = []
    with NatsServer(config="max_subscriptions: 2") as server, trio.fail_after(10):
        async with connect(server.url, on_event=events.append, reconnect_wait=0.01) as nc:
            first = await nc.subscribe("a")
            await nc.subscribe("b")
            await nc.subscribe("c")
            await nc.flush()
            await nc.publish("a", b"still here")
            await nc.flush()
            msg = await first.next_msg()
            reconnects = nc.statistics().reconnects
    assert msg.data == b"still here"
    assert reconnects == 0
    assert len(events) == 2  # then Closed, at the end of the block
    assert isinstance(events[0], AsyncError)
    assert type(events[0].error) is ServerError
    assert str(events[0].error) == "server error: maximum subscriptions exceeded"
