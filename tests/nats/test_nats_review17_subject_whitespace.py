"""Review 17: a vertical tab or form feed in a subject is part of it, as the server reads it.

nats-server splits a command's arguments on spaces and tabs only (client.go's
``splitArg``) and, without ``pedantic``, checks no publish subject: any other
publisher may use ``a\\x0bb`` or ``_R.\\x0c2``, and the server writes them as
they are in the ``MSG`` lines of every matching subscriber. The parser split
those lines with ``bytes.split()``, which also cuts at ``\\x0b`` and ``\\x0c``:
the line had one argument too many and was refused (``ProtocolError``: the
connection of every subscriber to ``>`` dropped at each such publish), or,
when the extra token looked like a sid, was read wrong: the message went to
another subscription, with another subject and a reply it never had.
"""

from __future__ import annotations

import pytest
import trio
from nats_fake import parse_split

from trouper.nats import ClientEvent, connect
from trouper.nats.protocol import MsgEvent, PingEvent
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


@pytest.mark.parametrize(
    ("frame", "subject", "reply"),
    [
        (b"MSG a\x0bb 1 2\r\nhi\r\n", "a\x0bb", None),
        (b"MSG x\x0b7 1 2\r\nhi\r\n", "x\x0b7", None),  # read as sid 7, reply "1"
        (b"MSG a 1 _R.\x0c2 2\r\nhi\r\n", "a", "_R.\x0c2"),
        (b"MSG a\x0c9 1 _R\x0b 2\r\nhi\r\n", "a\x0c9", "_R\x0b"),
        (b"HMSG a\x0bb 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "a\x0bb", None),
        (b"HMSG x\x0b7 1 r\x0c 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "x\x0b7", "r\x0c"),
    ],
    ids=["vt-subject", "vt-sid-lookalike", "ff-reply", "both", "hmsg", "hmsg-reply"],
)
def test_a_vertical_tab_or_form_feed_stays_in_its_subject(
    frame: bytes, subject: str, reply: str | None
) -> None:
    """The message keeps its sid, subject and reply, however the stream is cut."""
    data = frame + b"PING\r\n"
    for cut in range(len(data) + 1):
        message, ping = parse_split(data, cut)
        assert isinstance(message, MsgEvent), cut
        assert (message.sid, message.subject, message.reply) == (1, subject, reply), cut
        assert message.payload == b"hi"
        assert ping == PingEvent()


def test_tabs_and_repeated_spaces_still_separate_arguments() -> None:
    """The lenient reading of other servers' lines stays: tabs and runs of spaces separate."""
    data = (
        b"MSG a  1\t_R.x   2\r\nhi\r\n"
        b"msg b 2  2 \r\nhi\r\n"
        b"HMSG  c\t3 12  14\r\nNATS/1.0\r\n\r\nhi\r\n"
    )
    for cut in range(len(data) + 1):
        events = parse_split(data, cut)
        assert [(e.sid, e.subject, e.reply) for e in events if isinstance(e, MsgEvent)] == [
            (1, "a", "_R.x"),
            (2, "b", None),
            (3, "c", None),
        ], cut


async def test_a_wildcard_subscriber_gets_such_a_message_and_keeps_its_connection() -> None:
    """Another client publishes to "a\\x0bb" (the server takes it); ">" gets it, no reconnect."""
    events: list[ClientEvent] = []
    with NatsServer() as server, trio.fail_after(10):
        async with connect(server.url, on_event=events.append) as nc:
            everything = await nc.subscribe(">")
            await nc.flush()
            other = await trio.open_tcp_stream("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
            async with other:
                await other.send_all(
                    b'CONNECT {"verbose":false}\r\nPUB a\x0b7 _R.\x0c2 2\r\nhi\r\nPING\r\n'
                )
                received = b""
                while b"PONG\r\n" not in received:
                    received += await other.receive_some()
            msg = await everything.next_msg()
            assert nc.statistics().reconnects == 0
    assert (msg.subject, msg.reply, msg.data) == ("a\x0b7", "_R.\x0c2", b"hi")
    assert events == [events[-1]]  # Closed only: no Disconnected
