"""Review 12: a reply callback that raises when the connection drops.

``publish_soon``'s ``on_ack`` (and ``ack_nowait``'s ``on_confirmed``) hear
``ConnectionLost`` when the connection drops after their request was written.
If one raises, the client closes with that error as its reason and the error
leaves ``connect()``'s block, as when it raises on a timeout or at a close;
the other callbacks still hear the drop first.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import Closed, ConnectionLost, Disconnected, NatsError, PubAck

pytestmark = pytest.mark.real_clock


class Refused(Exception):
    """What the user's callback raises."""


async def test_an_on_ack_raising_at_a_drop_closes_the_client_with_its_error() -> None:
    """The drop is reported, every other callback hears it, and Closed names the error."""
    events: list[object] = []
    heard: list[PubAck | NatsError] = []

    def refuse(result: PubAck | NatsError) -> None:
        raise Refused(f"on_ack got {type(result).__name__}")

    with (
        trio.fail_after(5),
        pytest.RaisesGroup(
            pytest.RaisesExc(Refused, match=r"^on_ack got ConnectionLost$"), flatten_subgroups=True
        ),
    ):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append, reconnect_wait=0.01) as (nc, peer),
        ):
            js = nc.jetstream()
            js.publish_soon("orders.1", b"1", refuse)
            js.publish_soon("orders.2", b"2", heard.append)
            await peer.read_until("PUB orders.2")
            await peer.close()
            await trio.sleep_forever()  # (the client's error ends the block)
    assert [type(event) for event in events] == [Disconnected, Closed]
    closed = events[1]
    assert isinstance(closed, Closed)
    assert isinstance(closed.reason, Refused)
    assert len(heard) == 1
    assert isinstance(heard[0], ConnectionLost)
