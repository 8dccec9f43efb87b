"""Review 24: a status line whose code is not ASCII digits has no status; it never breaks a thing.

A header block comes from whoever published (the server passes it as it is).
The status code was taken when ``str.isdigit()`` held, which is also true of
non-ASCII digits: ``NATS/1.0 ²`` made ``int()`` raise a plain ``ValueError``
out of the parser (not ``ProtocolError``), which the client's reader did not
expect, so one publish broke every subscriber's client; and ``NATS/1.0 ٥٠٣``
(Arabic-Indic digits) read as status 503.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server, hmsg_frame, parse_split

from trouper.nats import ClientEvent, Disconnected
from trouper.nats.protocol import MsgEvent, PingEvent

pytestmark = pytest.mark.real_clock

ODD_STATUS_LINES = ["NATS/1.0 ²", "NATS/1.0 ٥٠٣ No Responders", "NATS/1.0 ①0"]


@pytest.mark.parametrize("status_line", ODD_STATUS_LINES)
def test_a_status_code_that_is_not_ascii_digits_is_no_status(status_line: str) -> None:
    """The message is read with its headers and no status, however the stream is cut."""
    block = f"{status_line}\r\nA: 1\r\n\r\n".encode()
    data = hmsg_frame("s", 1, block, b"hi") + b"PING\r\n"
    for cut in range(len(data) + 1):
        message, ping = parse_split(data, cut)
        assert isinstance(message, MsgEvent), cut
        assert (message.status, message.description, message.payload) == (None, "", b"hi")
        assert message.headers is not None
        assert message.headers.pairs() == (("A", "1"),)
        assert ping == PingEvent()


async def test_the_client_delivers_such_a_message_and_keeps_its_connection() -> None:
    """The subscriber gets the message (no status), then the next one; no disconnect."""
    events: list[ClientEvent] = []
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(server, on_event=events.append) as (nc, peer),
        ):
            sub = await nc.subscribe("s")
            await peer.read_until("SUB")
            block = "NATS/1.0 ²\r\n\r\n".encode()
            await peer.send(hmsg_frame("s", sub.sid, block, b"odd"))
            await peer.send(hmsg_frame("s", sub.sid, b"NATS/1.0 408\r\n\r\n", b""))
            odd = await sub.next_msg()
            assert (odd.data, odd.status) == (b"odd", None)
            assert (await sub.next_msg()).status == 408
    assert not [event for event in events if isinstance(event, Disconnected)]
