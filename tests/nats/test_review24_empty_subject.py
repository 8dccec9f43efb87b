"""Review 24: a MSG line with an empty subject is not the protocol, as other malformed lines.

``MSG  1 2`` (two spaces where the subject should be) was read by the parser's
fast path as a message with the subject "" for sid 1; the lenient reading of
the same line (runs of spaces separate arguments) has one argument too few,
and the server never writes an empty subject. It is a ``ProtocolError`` now,
however the stream is cut, and the client replaces the connection.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import connected, fake_server

from trouper.nats import ClientEvent, Disconnected, ProtocolError, Reconnected
from trouper.nats.protocol import Event, MsgEvent, Parser

pytestmark = pytest.mark.real_clock


def _parse_split(data: bytes, cut: int) -> list[Event]:
    parser = Parser()
    events: list[Event] = []
    for chunk in (data[:cut], data[cut:]):
        parser.feed(chunk)
        while (event := parser.next_event()) is not None:
            events.append(event)
    return events


@pytest.mark.parametrize(
    "frame",
    [
        b"MSG  1 2\r\nhi\r\n",
        b"MSG  1 _INBOX.r 2\r\nhi\r\n",
        b"HMSG  1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    ],
    ids=["msg", "msg-reply", "hmsg"],
)
def test_a_message_line_with_an_empty_subject_is_a_protocol_error(frame: bytes) -> None:
    """The line is refused whole or cut anywhere, never read as a message for sid 1."""
    for cut in range(len(frame) + 1):
        with pytest.raises(ProtocolError, match=r"^malformed message line: "):
            _parse_split(frame, cut)


def test_a_leading_run_of_spaces_before_a_subject_is_still_read() -> None:
    """The lenient reading stays: ``MSG  a 1 2`` is subject "a", sid 1."""
    data = b"MSG  a 1 2\r\nhi\r\n"
    for cut in range(len(data) + 1):
        (message,) = _parse_split(data, cut)
        assert isinstance(message, MsgEvent)
        assert (message.sid, message.subject, message.reply, message.payload) == (
            1,
            "a",
            None,
            b"hi",
        )


async def test_the_client_replaces_a_connection_that_sends_an_empty_subject() -> None:
    """The subscriber gets no message with subject "": the connection is dropped and renewed."""
    events: list[ClientEvent] = []
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(
                server, on_event=events.append, reconnect_wait=0.01, reconnect_jitter=0.0
            ) as (nc, peer),
        ):
            sub = await nc.subscribe("x")
            await peer.read_until("SUB")
            await peer.send(f"MSG  {sub.sid} 2\r\nhi\r\n".encode())
            second = await server.accept()
            await second.handshake()
            assert await second.read_until("SUB") == f"SUB x {sub.sid}"
            await second.send(f"MSG x {sub.sid} 5\r\nafter\r\n".encode())
            msg = await sub.next_msg()
            assert (msg.subject, msg.data) == ("x", b"after")
    disconnected = [event for event in events if isinstance(event, Disconnected)]
    assert len(disconnected) == 1
    assert isinstance(disconnected[0].reason, ProtocolError)
    assert str(disconnected[0].reason).startswith("malformed message line: ")
    assert any(isinstance(event, Reconnected) for event in events)
