"""Review 26: a tab after the operation name separates it from its arguments, as a space does.

nats-server's parser takes a space or a tab after ``MSG``, ``HMSG``,
``INFO`` and ``-ERR`` (and anything up to the line's end after ``PING`` and
``PONG``). The client's parser cut the operation at the first space only, so
``INFO\\t{...}`` or ``MSG\\ta 1 2`` was an unknown operation: a
``ProtocolError`` that dropped the connection. The operation now ends at
its first space or tab; what follows that one separator is read as after a
space (so ``MSG\t\ta 1 2`` reads as ``MSG \ta 1 2`` does: subject ``\ta``).
"""

from __future__ import annotations

import pytest
from nats_fake import parse_split

from trouper.nats.protocol import ErrEvent, InfoEvent, MsgEvent, PingEvent, PongEvent

BLOCK = b"NATS/1.0\r\n\r\n"


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"MSG\ta 1 2\r\nhi\r\n", MsgEvent(1, "a", None, b"hi", None, None, "")),
        (b"msg\ta 1 r 2\r\nhi\r\n", MsgEvent(1, "a", "r", b"hi", None, None, "")),
        (b"HMSG\ta 1 12 14\r\n" + BLOCK + b"hi\r\n", None),
        (b'INFO\t{"max_payload": 5}\r\n', InfoEvent({"max_payload": 5})),
        (b"-ERR\t'Unknown Protocol Operation'\r\n", ErrEvent("Unknown Protocol Operation")),
        (b"PING\t\r\n", PingEvent()),
        (b"PONG\t\r\n", PongEvent()),
    ],
    ids=["msg", "msg-lower-reply", "hmsg", "info", "err", "ping", "pong"],
)
def test_an_operation_followed_by_a_tab_reads_as_with_a_space(line: bytes, event: object) -> None:
    """The event is the one the line with a space gives, however the stream is cut."""
    data = line + b"PING\r\n"
    for cut in range(len(data) + 1):
        seen = parse_split(data, cut)
        assert len(seen) == 2, (cut, seen)
        first, ping = seen
        if event is None:  # HMSG: its headers are an empty Headers
            assert isinstance(first, MsgEvent)
            assert (first.sid, first.subject, first.reply, first.payload) == (1, "a", None, b"hi")
            assert first.headers is not None
            assert not first.headers
        else:
            assert first == event, cut
        assert ping == PingEvent()
