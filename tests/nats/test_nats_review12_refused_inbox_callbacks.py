"""Review 12: a reply callback that raises when the server refuses the reply subscription.

The server refuses the inbox subscription (``Permissions Violation for
Subscription``): the requests waiting on it fail with that error, through
their callbacks. A callback that raises (even an ``OSError``) is the user's
error: the client closes with it and it leaves ``connect()``'s block; it was
taken for a broken connection (an ``OSError``) and the client reconnected.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import AsyncError, ClientEvent, Closed, NatsError, PubAck

pytestmark = pytest.mark.real_clock


async def test_an_on_ack_raising_at_a_refused_inbox_closes_the_client_with_its_error() -> None:
    """The refusal is reported, and the client closes with the callback's error."""
    events: list[ClientEvent] = []

    def refuse(result: PubAck | NatsError) -> None:
        raise OSError(f"on_ack got {type(result).__name__}")

    with (
        trio.fail_after(5),
        pytest.RaisesGroup(
            pytest.RaisesExc(OSError, match=r"^on_ack got PermissionsViolation$"),
            flatten_subgroups=True,
        ),
    ):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append, reconnect_wait=0.01) as (nc, peer),
        ):
            nc.jetstream().publish_soon("orders.1", b"1", refuse)
            inbox = (await peer.read_until("SUB ")).split()[1]
            await peer.read_until("PUB orders.1")
            refusal = f"-ERR 'Permissions Violation for Subscription to \"{inbox}\"'\r\n"
            await peer.send(refusal.encode())
            await trio.sleep_forever()  # (the client's error ends the block)
    assert [type(event) for event in events] == [AsyncError, Closed]
    closed = events[-1]
    assert isinstance(closed, Closed)
    assert isinstance(closed.reason, OSError)
