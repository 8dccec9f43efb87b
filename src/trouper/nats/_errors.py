"""Every error the NATS client raises or reports, under one base.

The client knows nothing of actors, so its base is ``NatsError``, not
trouper's ``ActorError``. Each error is also a subclass of the Trio or builtin
error it resembles, so code that already catches ``LookupError`` or
``trio.ClosedResourceError`` keeps working::

    NatsError (Exception)
    ├── ConnectError (ConnectionError)          no server could be reached at connect()
    ├── ConnectionClosed (trio.ClosedResourceError)  the client is closed (or closing)
    ├── ConnectionLost (trio.BrokenResourceError)    the connection dropped while waiting
    ├── SubscriptionClosed (trio.EndOfChannel)  a subscription ended and its buffer is empty
    ├── ProtocolError (ValueError)              a frame from the server did not parse
    ├── ServerError (RuntimeError)              a ``-ERR`` with no more specific type
    │   ├── AuthorizationError (PermissionError)    bad or missing credentials
    │   ├── PermissionsViolation (PermissionError)  publish/subscribe not allowed
    │   ├── ProtocolViolation (ValueError)          the server says our bytes broke a rule
    │   └── StaleConnection (ConnectionError)       no PONG in time (server or client side)
    ├── MaxPayloadExceeded (ValueError)         a message larger than the server's max_payload
    ├── OutboundBufferFull (trio.WouldBlock)    no room to buffer a publish during an outage
    ├── NoResponders (LookupError)              nobody subscribes to a request's subject
    ├── ReplyTimeout (TimeoutError)             no reply in time to a request answered by a callback
    ├── SlowConsumer (BufferError)              a subscription dropped messages (reported)
    ├── AlreadyAcknowledged (RuntimeError)      a JetStream message was acked twice
    └── JetStreamError (RuntimeError)           a JetStream API error: code, err_code, text

Errors keep the arguments they were built with in ``args`` (plain strings and
numbers), so they pickle and can cross a process boundary.
"""

from __future__ import annotations

import re

import trio

__all__ = [
    "AlreadyAcknowledged",
    "AuthorizationError",
    "ConnectError",
    "ConnectionClosed",
    "ConnectionLost",
    "JetStreamError",
    "MaxPayloadExceeded",
    "NatsError",
    "NoResponders",
    "OutboundBufferFull",
    "PermissionsViolation",
    "ProtocolError",
    "ProtocolViolation",
    "ReplyTimeout",
    "ServerError",
    "SlowConsumer",
    "StaleConnection",
    "SubscriptionClosed",
    "is_fatal",
    "server_error",
]


class NatsError(Exception):
    """Base class of every error the NATS client raises or reports on purpose.

    Subclasses keep the arguments they were built with in ``args``, so they
    pickle and compare like builtin exceptions.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)

    def __str__(self) -> str:
        return self._message()

    def _message(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class ConnectError(NatsError, ConnectionError):
    """``connect()`` could not reach any server of its list; the message says why for each."""

    def __init__(self, description: str) -> None:
        super().__init__(description)


class ConnectionClosed(NatsError, trio.ClosedResourceError):
    """The client was closed (by ``close()``, ``drain()`` or giving up reconnecting).

    Raised by every operation on a closed client, and by operations that were
    waiting when it closed. ``reason`` says why it closed.
    """

    def __init__(self, reason: str = "the connection is closed") -> None:
        super().__init__(reason)

    @property
    def reason(self) -> str:
        """Why the client closed."""
        return str(self.args[0])


class ConnectionLost(NatsError, trio.BrokenResourceError):
    """The connection to the server dropped while this operation waited for it.

    Raised by ``flush()`` when the connection drops before its PONG arrives:
    what was published before it may or may not have reached the server; by
    ``request()`` when it drops after the request was written; and by
    ``close()`` and ``drain()`` when publishes they were to write were not
    sent (the connection dropped first, or the client was reconnecting).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class SubscriptionClosed(NatsError, trio.EndOfChannel):
    """``next_msg()`` found the subscription ended and its buffer empty.

    It ends after ``unsubscribe()``, ``drain()``, its ``max_msgs``-th message,
    or a graceful close of the client; ``async for`` stops on it.
    """

    def __init__(self, subject: str, sid: int) -> None:
        super().__init__(subject, sid)

    def _message(self) -> str:
        return f"subscription {self.args[1]} ({self.args[0]!r}) has ended"


class ProtocolError(NatsError, ValueError):
    """The server sent bytes that are not the NATS protocol.

    The client closes that connection and reconnects; the error is reported
    as the ``Disconnected`` event's reason.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)


class ServerError(NatsError, RuntimeError):
    """The server sent ``-ERR`` with a text the client has no more specific type for.

    ``text`` is the server's message without quotes. Subclasses are made by
    ``server_error()`` from the text.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)

    @property
    def text(self) -> str:
        """The server's error text, as sent (without the quotes)."""
        return str(self.args[0])

    def _message(self) -> str:
        return f"server error: {self.text}"


class AuthorizationError(ServerError, PermissionError):
    """The server refused the credentials (``Authorization Violation`` and its kin).

    Raised by ``connect()``; during a reconnect it counts as a failed attempt.
    """


class PermissionsViolation(ServerError, PermissionError):
    """The server refused a publish or a subscription this user may not make.

    Reported as an ``AsyncError`` event (the connection stays up); a refused
    subscription also ends with this error (its ``next_msg()`` raises it).
    """

    @property
    def operation(self) -> str:
        """``"publish"`` or ``"subscription"``, as the server named it ("" if unknown)."""
        match = _PERMISSION.match(self.text)
        return match.group(1).lower() if match else ""

    @property
    def subject(self) -> str:
        """The subject the server refused ("" if the text does not name one).

        As it was sent: the server quotes it with Go's ``%q``, whose escapes
        are undone (a byte that is not UTF-8 comes back as a surrogate, as
        the client decodes the subjects it receives).
        """
        match = _PERMISSION.match(self.text)
        if not match:
            return ""
        quoted = match.group(2)
        return match.group(4) if quoted is None else _go_unquote(quoted)

    def _refused_reply(self) -> str:
        """The reply subject a publish was refused for (reserved: ``_R_.``...), else ""."""
        match = _REFUSED_REPLY.match(self.text)
        return _go_unquote(match.group(1)) if match else ""

    def _refuses(self, subject: str, queue: str | None, sid: int) -> bool:
        """Whether this refusal is of the subscription ``sid`` to ``subject`` in ``queue``.

        The server names the queue group of a refused queue subscription
        (``... to "a" using queue "q"``) and no group for a plain one, so a
        plain and a queue subscription to one subject are told apart; a
        refusal at a configuration reload names the sid too.
        """
        match = _PERMISSION.match(self.text)
        if not match or self.operation != "subscription" or self.subject != subject:
            return False
        named_queue = match.group(3)
        if (None if named_queue is None else _go_unquote(named_queue)) != (queue or None):
            return False
        named_sid = _REFUSED_SID.search(self.text, match.end())
        return named_sid is None or named_sid.group(1) == str(sid)


class ProtocolViolation(ServerError, ValueError):
    """The server says the client broke the protocol or one of its limits.

    ``Unknown Protocol Operation``, ``Parser Error``, ``Maximum Payload
    Violation``, ``Maximum Control Line Exceeded``, ``Invalid Client Protocol``
    and ``Invalid Subject``. The client checks what it sends, so these point
    to a bug; all but ``Invalid Subject`` end the connection (it reconnects).
    """


class StaleConnection(ServerError, ConnectionError):
    """No PONG came back in time: the connection is considered dead and is replaced.

    Made by the client after ``max_outstanding_pings`` unanswered PINGs, or
    from the server's own ``-ERR 'Stale Connection'``.
    """


class MaxPayloadExceeded(NatsError, ValueError):
    """A publish was larger than the server's ``max_payload``; nothing was sent."""

    def __init__(self, size: int, max_payload: int) -> None:
        super().__init__(size, max_payload)

    def _message(self) -> str:
        return f"message of {self.args[0]} bytes exceeds the server's max_payload of {self.args[1]}"


class OutboundBufferFull(NatsError, trio.WouldBlock):
    """A publish did not fit in the bounded buffer kept while disconnected; it was not sent.

    Also raised by ``publish_nowait()`` when the write buffer is over its bound
    while connected (``publish()`` waits instead).
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(size, limit)

    def _message(self) -> str:
        return (
            f"outbound buffer full: {self.args[0]} bytes more would exceed "
            f"its bound of {self.args[1]} bytes; the message was not sent"
        )


class NoResponders(NatsError, LookupError):
    """A request's subject has no subscriber (the server answered with status 503)."""

    def __init__(self, subject: str) -> None:
        super().__init__(subject)

    @property
    def subject(self) -> str:
        """The subject nobody listens on."""
        return str(self.args[0])

    def _message(self) -> str:
        return f"no responders on subject {self.subject!r}"


class ReplyTimeout(NatsError, TimeoutError):
    """No reply came within ``reply_timeout`` to a request that no task waits on.

    Given to the callback of such a request (``JetStream.publish_soon``,
    ``JsMsg.ack_nowait(on_confirmed=...)``) in place of its reply, so that the
    client does not keep waiting for it for good; a reply that comes later is
    ignored. A ``request()`` never gets it: its caller's deadline bounds it.
    """

    def __init__(self, subject: str, timeout: float) -> None:
        super().__init__(subject, timeout)

    @property
    def subject(self) -> str:
        """The subject the request was published on."""
        return str(self.args[0])

    @property
    def timeout(self) -> float:
        """The ``reply_timeout`` it waited, in seconds."""
        return float(self.args[1])

    def _message(self) -> str:
        return f"no reply to a request on {self.subject!r} within {self.timeout:g} s"


class SlowConsumer(NatsError, BufferError):
    """A subscription's pending buffer was full, so messages were dropped.

    Never raised: reported as an ``AsyncError`` event when a subscription
    starts dropping (again after it caught up), and counted in its statistics.
    """

    def __init__(self, subject: str, sid: int, dropped: int) -> None:
        super().__init__(subject, sid, dropped)

    @property
    def subject(self) -> str:
        """The subscription's subject."""
        return str(self.args[0])

    @property
    def sid(self) -> int:
        """The subscription's id on the connection."""
        return int(self.args[1])

    @property
    def dropped(self) -> int:
        """How many messages the subscription had dropped when this was reported."""
        return int(self.args[2])

    def _message(self) -> str:
        return (
            f"slow consumer on subscription {self.args[1]} ({self.args[0]!r}): "
            f"{self.args[2]} messages dropped so far"
        )


class AlreadyAcknowledged(NatsError, RuntimeError):
    """A JetStream message was acked, naked or terminated after it already was."""

    def __init__(self, subject: str, how: str) -> None:
        super().__init__(subject, how)

    def _message(self) -> str:
        return f"message on {self.args[0]!r} was already acknowledged ({self.args[1]})"


class JetStreamError(NatsError, RuntimeError):
    """The JetStream API answered with an error.

    ``code`` is the HTTP-like status (404, 400, 503...), ``err_code`` the
    server's precise error number (10059: stream not found, 10014: consumer
    not found, 10058: stream name in use...), ``description`` its text.
    """

    def __init__(self, code: int, err_code: int, description: str) -> None:
        super().__init__(code, err_code, description)

    @property
    def code(self) -> int:
        """The HTTP-like status code."""
        return int(self.args[0])

    @property
    def err_code(self) -> int:
        """The server's specific error number (0 if it gave none)."""
        return int(self.args[1])

    @property
    def description(self) -> str:
        """The server's description of the error."""
        return str(self.args[2])

    def _message(self) -> str:
        return f"JetStream error {self.args[0]} ({self.args[1]}): {self.args[2]}"


_QUOTED = r'"((?:[^"\\]|\\.)*)"'
"""A string quoted by Go's ``%q`` (what nats-server names subjects with); group: its inside."""
_PERMISSION = re.compile(
    rf"permissions violation for (\w+) to (?:{_QUOTED}(?: using queue {_QUOTED})?|([^\"]*))",
    re.IGNORECASE,
)
"""Groups: the operation, the quoted subject and queue group, or an unquoted subject."""
_REFUSED_REPLY = re.compile(rf"permissions violation for publish with reply of {_QUOTED}", re.I)
_REFUSED_SID = re.compile(r'\(sid "([^"]*)"\)\s*$', re.IGNORECASE)

_GO_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_GO_HEX_WIDTHS = {"x": 2, "u": 4, "U": 8}


def _is_hex(digits: str) -> bool:
    return all(digit in "0123456789abcdefABCDEF" for digit in digits)


def _go_unquote(text: str) -> str:
    """Undo the escapes of Go's ``%q`` (``text`` without its quotes); anything else is kept.

    ``\\xNN`` is a raw byte: one that is not UTF-8 comes back as a surrogate
    (``surrogateescape``), as the client decodes the subjects it receives.
    """
    if "\\" not in text:
        return text
    out = bytearray()
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        kind = text[i + 1] if char == "\\" and i + 1 < size else ""
        width = _GO_HEX_WIDTHS.get(kind)
        if width is not None:
            digits = text[i + 2 : i + 2 + width]
            value = int(digits, 16) if len(digits) == width and _is_hex(digits) else -1
            if 0 <= value <= 0x10FFFF:
                if kind == "x":
                    out.append(value)
                else:
                    out += chr(value).encode("utf-8", "surrogatepass")
                i += 2 + width
                continue
        elif kind in _GO_ESCAPES:
            out.append(_GO_ESCAPES[kind])
            i += 2
            continue
        out += char.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")


_BY_PREFIX: tuple[tuple[str, type[ServerError]], ...] = (
    ("authorization violation", AuthorizationError),
    ("authentication timeout", AuthorizationError),
    ("user authentication expired", AuthorizationError),
    ("user authentication revoked", AuthorizationError),
    ("account authentication expired", AuthorizationError),
    ("permissions violation", PermissionsViolation),
    ("stale connection", StaleConnection),
    ("unknown protocol operation", ProtocolViolation),
    ("parser error", ProtocolViolation),
    ("maximum payload violation", ProtocolViolation),
    ("maximum control line exceeded", ProtocolViolation),
    ("invalid client protocol", ProtocolViolation),
    ("invalid subject", ProtocolViolation),
    ("invalid publish subject", ProtocolViolation),
)

FATAL_PREFIXES = (
    "authorization violation",
    "authentication timeout",
    "user authentication expired",
    "user authentication revoked",
    "account authentication expired",
    "stale connection",
    "unknown protocol operation",
    "parser error",
    "maximum payload violation",
    "maximum control line exceeded",
    "maximum connections exceeded",
    "maximum account active connections exceeded",
    "secure connection - tls required",
    "invalid client protocol",
    "no responders requires headers support",
    "failed account registration",
    "slow consumer",
)
"""``-ERR`` texts after which the server closes the connection.

``maximum account active connections exceeded`` comes during a session too,
to the clients a server kicks when their account goes over its limit.

Not ``maximum subscriptions exceeded``: the server refuses that one SUB and
keeps the connection (dropping it made the client re-send every SUB on a new
connection, exceed the limit again and reconnect for ever).
"""


def server_error(text: str) -> ServerError:
    """Return the typed error for a ``-ERR`` text (quotes already removed)."""
    lowered = text.lower()
    for prefix, cls in _BY_PREFIX:
        if lowered.startswith(prefix):
            return cls(text)
    return ServerError(text)


def is_fatal(text: str) -> bool:
    """Whether the server closes the connection after sending ``-ERR text``."""
    return text.lower().startswith(FATAL_PREFIXES)
