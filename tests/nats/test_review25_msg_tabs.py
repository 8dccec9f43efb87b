"""Review 25: a MSG line holding a tab reads the same however the reads split the stream.

The parser's inlined path (the payload came with its line) splits a MSG line
at single spaces, so a tab inside an argument stays in it; the other path
(the payload comes in a later read) split at tabs too. The same bytes gave
``subject "a\\tb"`` or a ``ProtocolError``, and ``MSG a\\t7 1 2`` went to
sid 1 or to sid 7 with a reply it never had, depending on where a read
ended. Both paths now read a line the inlined path accepts the same way; a
line it refuses (runs of spaces, tabs between arguments) is still read
leniently by both (see test_nats_review17_subject_whitespace.py).
"""

from __future__ import annotations

import pytest

from trouper.nats import ProtocolError
from trouper.nats.protocol import MsgEvent, Parser, PingEvent


def _parse_split(data: bytes, cut: int) -> list[object]:
    """What the parser makes of ``data`` fed in two reads cut at ``cut`` (an error ends it)."""
    parser = Parser()
    seen: list[object] = []
    try:
        for chunk in (data[:cut], data[cut:]):
            parser.feed(chunk)
            while (event := parser.next_event()) is not None:
                seen.append(event)
    except ProtocolError as error:
        seen.append(f"ProtocolError: {error}")
    return seen


@pytest.mark.parametrize(
    ("frame", "sid", "subject", "reply"),
    [
        (b"MSG a\tb 1 2\r\nhi\r\n", 1, "a\tb", None),
        (b"MSG a\t7 1 2\r\nhi\r\n", 1, "a\t7", None),  # split at the tab: sid 7, reply "1"
        (b"MSG a 1 r\tx 2\r\nhi\r\n", 1, "a", "r\tx"),
        (b"MSG a 1 \tr 2\r\nhi\r\n", 1, "a", "\tr"),
    ],
    ids=["subject", "sid-lookalike", "reply", "reply-leading-tab"],
)
def test_a_tab_inside_an_argument_reads_the_same_at_every_cut(
    frame: bytes, sid: int, subject: str, reply: str | None
) -> None:
    """Every cut gives the message the whole frame gives, with the same sid, subject and reply."""
    data = frame + b"PING\r\n"
    for cut in range(len(data) + 1):
        seen = _parse_split(data, cut)
        assert len(seen) == 2, (cut, seen)
        message, ping = seen
        assert isinstance(message, MsgEvent), (cut, seen)
        assert (message.sid, message.subject, message.reply) == (sid, subject, reply), cut
        assert message.payload == b"hi"
        assert ping == PingEvent()
