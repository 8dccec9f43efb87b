"""Review 7: an error raised by ``on_event`` leaves connect()'s block (scripted server).

An ``on_event`` that raised an ``OSError`` from the reader (reporting an
``AsyncError``) was taken for a broken connection: the client reconnected and
the error was swallowed. As with a subscription's callback, the client closes
and the error leaves the block, naming the reason it closed.
"""

from __future__ import annotations

import contextlib

import pytest
import trio
from nats_fake import FakeServer, connected, fake_server

from trouper.nats import AsyncError, ClientEvent, Closed, LameDuck, connect

pytestmark = pytest.mark.real_clock


async def test_an_os_error_from_on_event_leaves_the_block() -> None:
    """The handler's own OSError closes the client instead of making it reconnect."""
    events: list[ClientEvent] = []

    def on_event(event: ClientEvent) -> None:
        events.append(event)
        if isinstance(event, AsyncError):
            raise OSError("the event log is full")

    with (
        trio.fail_after(5),
        pytest.RaisesGroup(
            pytest.RaisesExc(OSError, match=r"^the event log is full$"), flatten_subgroups=True
        ),
    ):
        async with fake_server() as server, connected(server, on_event=on_event) as (_nc, peer):
            await peer.send(b"-ERR 'Permissions Violation for Publish to \"x\"'\r\n")
            await trio.sleep_forever()
    assert [type(event) for event in events] == [AsyncError, Closed]
    assert isinstance(events[-1], Closed)
    assert isinstance(events[-1].reason, OSError)


async def test_an_os_error_from_on_event_during_the_handshake_leaves_connect() -> None:
    """Raised for a LameDuck in the first INFO, it is no failed attempt; the socket closes."""

    def on_event(event: ClientEvent) -> None:
        if isinstance(event, LameDuck):
            raise OSError("the event log is full")

    closed = trio.Event()

    async def serve(server: FakeServer) -> None:
        peer = await server.accept()
        await peer.handshake(ldm=True)
        with contextlib.suppress(EOFError):
            await peer.read_line()  # nothing comes: the client closes its end
        closed.set()

    with trio.fail_after(5):
        async with fake_server() as server, trio.open_nursery() as nursery:
            nursery.start_soon(serve, server)
            with pytest.raises(OSError, match=r"^the event log is full$"):
                async with connect(server.url, on_event=on_event):
                    pass
            await closed.wait()
