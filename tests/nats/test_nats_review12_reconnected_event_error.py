"""Review 12: an ``on_event`` that raises on ``Reconnected`` closes the new connection too.

The error leaves ``connect()``'s block (the client closes with it); the
connection the reconnect had just opened was left open behind it, held by
the error's traceback, until the garbage collector found it.
"""

from __future__ import annotations

import contextlib

import pytest
import trio
from nats_fake import FakeServer, connected, fake_server

from trouper.nats import ClientEvent, Closed, Disconnected, Reconnected

pytestmark = pytest.mark.real_clock


class Refused(Exception):
    """What the user's on_event raises."""


async def test_an_error_from_on_event_on_reconnected_closes_the_new_connection() -> None:
    """The block gets the error, and the server sees the new connection closed."""
    events: list[ClientEvent] = []

    def on_event(event: ClientEvent) -> None:
        events.append(event)
        if isinstance(event, Reconnected):
            raise Refused("no reconnects, please")

    closed = trio.Event()

    async def serve_reconnect(server: FakeServer) -> None:
        peer = await server.accept()
        await peer.handshake()
        with contextlib.suppress(EOFError, trio.BrokenResourceError):
            while True:
                await peer.read_line()  # until the client closes its end
        closed.set()

    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:
            with pytest.RaisesGroup(
                pytest.RaisesExc(Refused, match=r"^no reconnects, please$"),
                flatten_subgroups=True,
            ) as caught:
                async with connected(
                    server, on_event=on_event, reconnect_wait=0.01, reconnect_jitter=0.0
                ) as (_nc, peer):
                    nursery.start_soon(serve_reconnect, server)
                    await peer.close()
                    await trio.sleep_forever()
            await closed.wait()
            del caught  # (its traceback no longer holds the connection open either)
    assert [type(event) for event in events] == [Disconnected, Reconnected, Closed]
