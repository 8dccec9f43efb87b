"""Review 7: an error raised by ``on_event`` leaves connect()'s block (scripted server).

An ``on_event`` that raised an ``OSError`` from the reader (reporting an
``AsyncError``) was taken for a broken connection: the client reconnected and
the error was swallowed. As with a subscription's callback, the client closes
and the error leaves the block, naming the reason it closed.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import AsyncError, ClientEvent, Closed

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
