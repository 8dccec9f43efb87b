"""Review 26: an HMSG line holding a tab reads as the same MSG line does.

Review 25 made every MSG line that the parser's inlined path accepts (single
spaces between its arguments) read the same way on both paths, so that a tab
inside an argument stays in it (``MSG a\\tb 1 2``: subject ``a\\tb``). HMSG
lines kept being split at tabs too: ``HMSG a\\tb 1 12 14`` was a
``ProtocolError`` (sid ``b``) and ``HMSG a\\t7 1 12 14`` went to sid 7 with a
reply ``1`` it never had, where the MSG line with the same arguments goes to
sid 1. HMSG lines are now read as MSG lines are: single spaces first, and
only a line that is not single-spaced is split at runs of spaces and tabs.
(nats-server writes its lines with single spaces and never puts a tab in a
subject: its PUB parser splits at tabs.)
"""

from __future__ import annotations

import pytest
from nats_fake import parse_split

from trouper.nats import Headers
from trouper.nats.protocol import MsgEvent, PingEvent

BLOCK = b"NATS/1.0\r\nK: v\r\n\r\n"


@pytest.mark.parametrize(
    ("args", "subject", "reply"),
    [
        (b"a\tb 1", "a\tb", None),
        (b"a\t7 1", "a\t7", None),
        (b"a 1 r\tx", "a", "r\tx"),
        (b"a 1 \tr", "a", "\tr"),
        (b"a\t1", "a", None),  # not single-spaced: tabs separate (MSG a\t1 2 is sid 1 too)
    ],
    ids=["subject", "sid-lookalike", "reply", "reply-leading-tab", "tab-between"],
)
def test_hmsg_and_msg_with_the_same_arguments_read_alike_at_every_cut(
    args: bytes, subject: str, reply: str | None
) -> None:
    """Sid, subject and reply are those of the MSG line, however the stream is cut."""
    sizes = f"{len(BLOCK)} {len(BLOCK) + 2}".encode()
    hmsg = b"HMSG " + args + b" " + sizes + b"\r\n" + BLOCK + b"hi\r\nPING\r\n"
    msg = b"MSG " + args + b" 2\r\nhi\r\nPING\r\n"
    for data, headers in ((msg, None), (hmsg, Headers({"K": "v"}))):
        for cut in range(len(data) + 1):
            events = parse_split(data, cut)
            assert len(events) == 2, (data, cut, events)
            message, ping = events
            assert isinstance(message, MsgEvent), (data, cut)
            assert (message.sid, message.subject, message.reply) == (1, subject, reply), (
                data,
                cut,
            )
            assert (message.payload, message.headers) == (b"hi", headers)
            assert ping == PingEvent()
