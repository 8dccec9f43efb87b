"""Review 17: a server that just closes the connection is reported as ``ConnectionLost``.

docs/nats.md and ``Disconnected.reason`` said ``None`` for that case; the
client has always given ``ConnectionLost("the server closed the connection")``,
so code that tested ``reason is None`` never saw a plain close.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import ClientEvent, ConnectionLost, Disconnected

pytestmark = pytest.mark.real_clock


async def test_a_plain_close_by_the_server_is_connection_lost() -> None:
    """The server ends the stream with no -ERR: the reason says so, as a ConnectionLost."""
    events: list[ClientEvent] = []
    dropped = trio.Event()

    def on_event(event: ClientEvent) -> None:
        events.append(event)
        if isinstance(event, Disconnected):
            dropped.set()

    with trio.fail_after(5):
        async with fake_server() as server, connected(server, on_event=on_event) as (_, peer):
            await peer.close()
            await dropped.wait()
    (disconnected,) = [event for event in events if isinstance(event, Disconnected)]
    assert isinstance(disconnected.reason, ConnectionLost)
    assert str(disconnected.reason) == "the server closed the connection"
