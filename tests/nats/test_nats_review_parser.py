"""Review: the parser's answer does not depend on how the server's bytes are split."""

from __future__ import annotations

import pytest
from nats_fake import parse_split

from trouper.nats import ProtocolError
from trouper.nats.protocol import ErrEvent, MsgEvent, PingEvent


def test_a_control_line_of_exactly_the_limit_is_accepted_at_every_split() -> None:
    """A line of max_control_line bytes is accepted even when its CR and LF come apart."""
    line = b"-ERR '" + b"x" * 9 + b"'"
    assert len(line) == 16
    data = line + b"\r\n" + b"PING\r\n"
    for cut in range(len(data) + 1):
        events = parse_split(data, cut, max_control_line=16)
        assert events == [ErrEvent("x" * 9), PingEvent()], cut


def test_a_control_line_over_the_limit_is_refused_at_every_split() -> None:
    """A line of max_control_line + 1 bytes is refused however it is cut, CRLF or not in view."""
    line = b"-ERR '" + b"x" * 10 + b"'"
    assert len(line) == 17
    data = line + b"\r\n" + b"PING\r\n"
    for cut in range(len(data) + 1):
        with pytest.raises(ProtocolError, match=r"^control line longer than 16 bytes"):
            parse_split(data, cut, max_control_line=16)


@pytest.mark.parametrize(
    ("frame", "subject", "reply"),
    [
        (b"MSG raw.\xff 1 2\r\nhi\r\n", "raw.\udcff", None),
        (b"MSG raw.ok 1 _INBOX.\xfe 2\r\nhi\r\n", "raw.ok", "_INBOX.\udcfe"),
        (b"HMSG raw.\xff 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "raw.\udcff", None),
    ],
    ids=["subject", "reply", "hmsg"],
)
def test_a_subject_that_is_not_utf8_does_not_break_the_stream(
    frame: bytes, subject: str, reply: str | None
) -> None:
    """Subjects come from other publishers (the server passes any bytes): kept, never refused."""
    data = frame + b"PING\r\n"
    for cut in range(len(data) + 1):
        message, ping = parse_split(data, cut, max_control_line=1024)
        assert isinstance(message, MsgEvent)
        assert (message.subject, message.reply, message.payload) == (subject, reply, b"hi")
        assert ping == PingEvent()
