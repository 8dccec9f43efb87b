"""Review 17: every ``-ERR`` after which nats-server closes the connection is taken as fatal.

The server sends ``-ERR 'maximum account active connections exceeded'`` to
clients it kicks when an account goes over its connection limit (a limit
lowered, or connections counted across a cluster), then closes; and
``no responders requires headers support`` and ``Failed Account
Registration`` before it closes at a CONNECT. Taken as not fatal, the error
was only an ``AsyncError`` and the drop that follows was reported as
``Disconnected(ConnectionLost("the server closed the connection"))``, its
cause lost: flushes and requests failed naming no reason.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import ClientEvent, Closed, ConnectionLost, Disconnected, ServerError
from trouper.nats.protocol import is_fatal

pytestmark = pytest.mark.real_clock

_KICKED = "maximum account active connections exceeded"


@pytest.mark.parametrize(
    "text",
    [_KICKED, "no responders requires headers support", "Failed Account Registration"],
)
def test_the_server_closes_after_these_errs(text: str) -> None:
    """nats-server's client.go closes the connection right after sending each of these."""
    assert is_fatal(text)


async def test_a_client_kicked_over_its_account_limit_is_told_why() -> None:
    """The drop's reason is the server's error, and a flush waiting then names it."""
    events: list[ClientEvent] = []
    closed = trio.Event()

    def on_event(event: ClientEvent) -> None:
        events.append(event)
        if isinstance(event, Closed):
            closed.set()

    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=on_event, allow_reconnect=False) as (nc, peer),
        ):
            async with trio.open_nursery() as nursery:

                async def kick() -> None:
                    assert await peer.read_line() == "PING"  # the flush's
                    await peer.send(f"-ERR '{_KICKED}'\r\n".encode())
                    await peer.close()

                nursery.start_soon(kick)
                with pytest.raises(ConnectionLost, match=rf"^the connection dropped: .*{_KICKED}$"):
                    await nc.flush()
            await closed.wait()
    assert [type(event) for event in events] == [Disconnected, Closed]
    reason = events[0].reason  # type: ignore[union-attr]
    assert type(reason) is ServerError
    assert reason.text == _KICKED
