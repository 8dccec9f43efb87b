"""The NATS client protocol without I/O: a parser of what the server sends, the commands sent.

For tools and tests that speak the protocol themselves (``Client`` uses
these): ``Parser`` turns received bytes, in chunks of any size, into events
(``InfoEvent``, ``MsgEvent``, ``PingEvent``, ...), raising ``ProtocolError``
on a malformed frame; the ``*_command`` functions make the bytes of each
command; ``server_error`` and ``is_fatal`` say what a ``-ERR`` text means.
Not for applications, which use ``trouper.nats.connect``; it may change
between releases.
"""

from trouper._exports import publish
from trouper.nats._errors import is_fatal, server_error
from trouper.nats._protocol import (
    PING,
    PONG,
    ErrEvent,
    Event,
    InfoEvent,
    MsgEvent,
    OkEvent,
    Parser,
    PingEvent,
    PongEvent,
    check_subject,
    connect_command,
    encode_headers,
    pub_command,
    sub_command,
    unsub_command,
)

__all__ = [
    "PING",
    "PONG",
    "ErrEvent",
    "Event",
    "InfoEvent",
    "MsgEvent",
    "OkEvent",
    "Parser",
    "PingEvent",
    "PongEvent",
    "check_subject",
    "connect_command",
    "encode_headers",
    "is_fatal",
    "pub_command",
    "server_error",
    "sub_command",
    "unsub_command",
]

publish(__name__, globals(), private_package="trouper.nats")
