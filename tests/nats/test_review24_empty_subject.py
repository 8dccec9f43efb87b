"""Review 24: a MSG line with an empty subject is not the protocol, as other malformed lines.

``MSG  1 2`` (two spaces where the subject should be) was read by the parser's
fast path as a message with the subject "" for sid 1; the lenient reading of
the same line (runs of spaces separate arguments) has one argument too few,
and the server never writes an empty subject. It is a ``ProtocolError`` now,
however the stream is cut, and the client replaces the connection.
"""

from __future__ import annotations

import pytest
from nats_fake import next_msg_after_replacement, parse_split

from trouper.nats import Disconnected, ProtocolError, Reconnected
from trouper.nats.protocol import MsgEvent

pytestmark = pytest.mark.real_clock


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
            parse_split(frame, cut)


def test_a_leading_run_of_spaces_before_a_subject_is_still_read() -> None:
    """The lenient reading stays: ``MSG  a 1 2`` is subject "a", sid 1."""
    data = b"MSG  a 1 2\r\nhi\r\n"
    for cut in range(len(data) + 1):
        (message,) = parse_split(data, cut)
        assert isinstance(message, MsgEvent)
        assert (message.sid, message.subject, message.reply, message.payload) == (
            1,
            "a",
            None,
            b"hi",
        )


async def test_the_client_replaces_a_connection_that_sends_an_empty_subject() -> None:
    """The subscriber gets no message with subject "": the connection is dropped and renewed."""
    msg, events = await next_msg_after_replacement(lambda sid: f"MSG  {sid} 2\r\nhi\r\n".encode())
    assert (msg.subject, msg.data) == ("x", b"after")
    disconnected = [event for event in events if isinstance(event, Disconnected)]
    assert len(disconnected) == 1
    assert isinstance(disconnected[0].reason, ProtocolError)
    assert str(disconnected[0].reason).startswith("malformed message line: ")
    assert any(isinstance(event, Reconnected) for event in events)
