"""The NATS client protocol without I/O: bytes from the server in, events out; commands out.

Public for tools and tests that speak the protocol themselves (``Client`` is
built on it); not for applications, which use ``trouper.nats.connect``; it
may change between releases. ``server_error`` and ``is_fatal`` say what a
``-ERR`` text means. ``Headers`` is exported by ``trouper.nats``.

Theory of operation
-------------------
``Parser`` owns one buffer. When everything fed before has been parsed (the
usual case), ``feed()`` keeps the received ``bytes`` object itself, so that
payloads are sliced out of it with one copy; otherwise the buffer is a
``bytearray`` and ``feed()`` appends to it (first dropping the bytes already
parsed, which CPython does without moving the rest). ``next_event()`` returns
the next complete event or ``None`` when it needs more bytes. A control line
is found by scanning for CRLF from where the previous scan stopped, so a line
that arrives one byte at a time is scanned once in all. ``MSG``/``HMSG``
announce their sizes in the control line; the parser then waits, without
scanning, until the whole payload and its CRLF are buffered, and only then
copies the payload out (once: a slice of ``bytes``, or through a
``memoryview`` for a large payload in a ``bytearray``). Anything that is not
the protocol (an unknown operation, a bad size, a payload not followed by
CRLF, a control line longer than ``max_control_line``) raises
``ProtocolError``; the connection is then unusable and the client replaces it.

Header *content* comes from other publishers, not the server, so it never
breaks the connection: a header line without a colon is skipped, and a block
without the ``NATS/1.0`` status line has no status. Subjects too: one that is
not UTF-8 is decoded with its stray bytes as surrogates (``surrogateescape``).
An operation's name ends at a space or a tab, as the server's parser reads
it. A ``MSG`` or ``HMSG`` line is split at single spaces, as the server writes
it, so a tab inside an argument stays in it (the server never writes one
there: its own reading of ``PUB`` splits at tabs, and the hot path does not
scan for one); a line that is not single-spaced is split at runs of spaces
and tabs, as the server's ``splitArg`` reads a line. Never at ``\x0b`` or
``\x0c``, which a subject may hold. Both ways, a line reads the same however
the reads split the stream.

The command encoders build the bytes the client sends; the client inlines
the hot one (``PUB``) but sends the same bytes as ``pub_command``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Final, NamedTuple

import attrs

from trouper._exports import publish
from trouper._text import is_utf8
from trouper.nats._errors import ProtocolError, is_fatal, server_error

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

PING: Final = b"PING\r\n"
PONG: Final = b"PONG\r\n"

MAX_CONTROL_LINE: Final = 1024 * 1024
"""A control line longer than this (without its CRLF) is not the protocol (INFO may be long)."""

_COPY_VIA_VIEW: Final = 2048
"""Payloads at least this long are copied out through a memoryview (one copy, not two)."""

_HEADER_PREFIX: Final = b"NATS/1.0"

_OP_END: Final = re.compile(rb"[ \t]")
"""What ends the operation name of a control line."""


class Headers(Mapping[str, str]):
    """Message headers: ordered ``(name, value)`` pairs in which a name may repeat. Immutable.

    As a mapping, ``headers[name]`` is the first value of ``name``;
    ``get_all(name)`` gives every value. Names are case-sensitive, as NATS
    keeps them. Build one from a mapping whose values are a string or a
    sequence of strings, or from an iterable of pairs.

    Raises:
        ValueError: a name is empty or holds a colon, whitespace or a control
            character, or a value holds CR or LF.
    """

    __slots__ = ("_block", "_index", "_pairs")

    def __init__(
        self, items: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]] = ()
    ) -> None:
        pairs: list[tuple[str, str]] = []
        source = items.items() if isinstance(items, Mapping) else items
        for name, value in source:
            if isinstance(value, str):
                pairs.append((_check_name(name), _check_value(value)))
            else:
                pairs.extend((_check_name(name), _check_value(v)) for v in value)
        # The pairs in order, as they are sent; never empty names.
        self._pairs: tuple[tuple[str, str], ...] = tuple(pairs)
        # Every value of each name, in order; built on first lookup.
        self._index: dict[str, list[str]] | None = None
        # The header block as sent (encode_headers); built on first use, kept
        # (the pairs never change), so one Headers published again and again
        # is encoded once.
        self._block: bytes | None = None

    @classmethod
    def _trusted(cls, pairs: list[tuple[str, str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._pairs = tuple(pairs)
        headers._index = None
        headers._block = None
        return headers

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self._pairs:
                index.setdefault(name, []).append(value)
            self._index = index
        return index

    def __getitem__(self, name: str) -> str:
        return self._lookup()[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order (empty if it is absent)."""
        return list(self._lookup().get(name, ()))

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every ``(name, value)`` pair, in order, repeats included."""
        return self._pairs

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._pairs == other._pairs
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"


HeadersLike = Headers | Mapping[str, str | Sequence[str]]
"""What ``publish`` accepts as headers: a ``Headers`` or a mapping of names to value(s)."""

_BAD_NAME_CHARS = frozenset(":\r\n \t\0")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or not _BAD_NAME_CHARS.isdisjoint(name):
        raise ValueError(
            f"a header name must be a non-empty string without ':', whitespace or NUL, got {name!r}"
        )
    return name


def _is_count(text: str) -> bool:
    """Whether ``text`` is a count as the server writes one: ASCII digits only.

    ``int()`` would also read ``-5``, ``+5``, ``1_0`` and the digits of other
    scripts (``٥٠٣``); ``str.isdigit()`` alone also holds for ``²``, which
    ``int()`` refuses.
    """
    return text.isascii() and text.isdigit()


def _check_value(value: str) -> str:
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise ValueError(f"a header value must be a string without CR or LF, got {value!r}")
    return value


_BAD_SUBJECT_CHARS = frozenset(" \t\r\n\f\0")
"""What the server takes for an argument separator (and NUL): never in a subject."""


def check_subject(subject: str, what: str = "subject", *, wildcards: bool = True) -> str:
    """Return ``subject`` if it can go on the wire: non-empty tokens, no whitespace.

    Only a whole token ``*`` or ``>`` is a wildcard (``a*`` is a literal
    token, as the server reads it). With ``wildcards`` (a subscription) ``*``
    may be any token and ``>`` the last one; without (what is published to,
    a reply subject) neither may be a token. Costs a few scans of the string
    in C and allocates nothing unless a ``*`` or ``>`` or a character
    outside ASCII is in it.

    Raises:
        ValueError: it is empty, has an empty token, holds whitespace, holds
            a wildcard where it may not, or has no UTF-8 form (a lone
            surrogate).
    """
    if (
        not isinstance(subject, str)
        or not subject
        or subject[0] == "."
        or subject[-1] == "."
        or ".." in subject
        or not _BAD_SUBJECT_CHARS.isdisjoint(subject)
    ):
        raise ValueError(
            f"a {what} must be non-empty dot-separated tokens without whitespace, got {subject!r}"
        )
    if not is_utf8(subject):
        raise ValueError(f"a {what} must be encodable as UTF-8, got {subject!r}")
    if ">" not in subject and ("*" not in subject or wildcards):
        return subject  # the usual case: no token can be a misplaced wildcard
    tokens = subject.split(".")
    if not wildcards:
        if "*" in tokens or ">" in tokens:
            raise ValueError(
                f"a {what} must not hold the wildcard tokens '*' or '>' "
                f"(they are for subscriptions), got {subject!r}"
            )
    elif ">" in tokens[:-1]:
        raise ValueError(f"a {what} may hold '>' only as its last token, got {subject!r}")
    return subject


# --- events ---------------------------------------------------------------


@attrs.frozen
class InfoEvent:
    """``INFO {json}``: what the server says about itself and the cluster."""

    info: dict[str, object]
    """The decoded JSON object."""


class MsgEvent(NamedTuple):
    """``MSG`` or ``HMSG``: a message for one of our subscriptions."""

    sid: int
    """The subscription id the message is for."""
    subject: str
    """The subject it was published on."""
    reply: str | None
    """Its reply subject, if any."""
    payload: bytes
    """The payload, without headers."""
    headers: Headers | None
    """The headers of an ``HMSG`` (``None`` for ``MSG``, possibly empty for ``HMSG``)."""
    status: int | None
    """The status code of the ``NATS/1.0`` line (503, 408...), if it carries one."""
    description: str
    """The text after the status code ("" if none)."""


@attrs.frozen
class PingEvent:
    """``PING``: the server wants a ``PONG``."""


@attrs.frozen
class PongEvent:
    """``PONG``: the answer to the oldest unanswered ``PING`` we sent."""


@attrs.frozen
class OkEvent:
    """``+OK`` (only sent in verbose mode, which the client does not ask for)."""


@attrs.frozen
class ErrEvent:
    """``-ERR 'text'``: an error from the server."""

    text: str
    """The error text without its quotes."""


Event = InfoEvent | MsgEvent | PingEvent | PongEvent | OkEvent | ErrEvent
"""Everything the parser produces."""

_new_msg_event = partial(tuple.__new__, MsgEvent)
"""Makes a ``MsgEvent`` from a tuple of its fields (without the Python-level ``__new__``)."""

_PING_EVENT: Final = PingEvent()
_PONG_EVENT: Final = PongEvent()
_OK_EVENT: Final = OkEvent()


# --- the parser -----------------------------------------------------------


class Parser:
    """Turns the server's byte stream into events, however the stream is split.

    Not thread-safe; one parser per connection. After it raised
    ``ProtocolError`` it must not be fed again.
    """

    __slots__ = ("_buf", "_max_control_line", "_pending", "_pos", "_scan")

    def __init__(self, *, max_control_line: int = MAX_CONTROL_LINE) -> None:
        # Bytes received and not yet dropped; [_pos:] is what is left to parse.
        # The bytes of the last receive as they came while they hold everything
        # unparsed, a bytearray once bytes are added to a remainder.
        self._buf: bytes | bytearray = b""
        # Where the unparsed bytes start.
        self._pos = 0
        # Where the next CRLF scan starts (>= _pos): bytes before it hold no CRLF.
        self._scan = 0
        # A parsed MSG/HMSG control line waiting for its payload:
        # (sid, subject, reply, header bytes or -1 for MSG, total bytes).
        self._pending: tuple[int, str, str | None, int, int] | None = None
        # The longest control line accepted.
        self._max_control_line = max_control_line

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes received from the server."""
        buf = self._buf
        pos = self._pos
        if pos == len(buf) and type(data) is bytes:
            # Everything before was parsed (the usual case): keep the received
            # bytes as they are, so that payloads are sliced out of them with
            # one copy and no bytearray is grown.
            self._buf = data
            self._pos = self._scan = 0
            return
        if isinstance(buf, bytearray):
            if pos:
                del buf[:pos]
        else:
            buf = bytearray(buf[pos:])  # only the unparsed rest is copied
        self._scan -= pos
        self._pos = 0
        buf += data
        self._buf = buf

    def buffered(self) -> int:
        """How many received bytes are not parsed yet."""
        return len(self._buf) - self._pos

    def next_event(self) -> Event | None:
        """Return the next complete event, or ``None`` until more bytes are fed.

        Raises:
            ProtocolError: the bytes are not the NATS protocol.
        """
        buf = self._buf
        pos = self._pos
        if pos == len(buf):
            return None  # all parsed (a pending payload has not begun either)
        pending = self._pending
        if pending is not None:
            return self._payload(pending)
        end = buf.find(b"\r\n", self._scan)
        if end < 0:
            size = len(buf)
            # A CR at the very end may be the first half of the CRLF: not part of the line.
            if size - pos - (buf[-1] == 13) > self._max_control_line:
                raise ProtocolError(f"control line longer than {self._max_control_line} bytes")
            # The next search starts at that CR, so that a CRLF split by the reads is found.
            self._scan = size - 1 if size > pos else pos
            return None
        if end - pos > self._max_control_line:
            # The same line is refused above when it comes without its CRLF: the
            # answer must not depend on where the reads split the stream.
            raise ProtocolError(f"control line longer than {self._max_control_line} bytes")
        self._pos = self._scan = end + 2
        if buf.startswith(b"MSG ", pos):
            # The hot path, inlined: a well-formed MSG whose payload is all here.
            # Anything else takes _msg_line, which waits for the rest or raises.
            # Split at single spaces, as the server writes the line (bytes.split()
            # would also cut at \x0b and \x0c, which a subject may hold).
            parts = buf[pos + 4 : end].split(b" ")
            count = len(parts)
            if count == 3 or count == 4:
                try:
                    total = int(parts[-1])
                    sid = int(parts[1])
                    subject = parts[0].decode()
                    reply = (parts[2].decode() or None) if count == 4 else None
                except ValueError:
                    total = -1
                start = end + 2
                stop = start + total
                # An empty subject ("MSG  1 2") takes _msg_line too, which refuses it.
                if (
                    total >= 0
                    and subject
                    and len(buf) >= stop + 2
                    and buf.startswith(b"\r\n", stop)
                ):
                    self._pos = self._scan = stop + 2
                    payload = self._copy(buf, start, stop)
                    return _new_msg_event((sid, subject, reply, payload, None, None, ""))
            return self._msg_line(buf[pos:end], headers=False)
        if buf.startswith(b"HMSG ", pos):
            return self._msg_line(buf[pos:end], headers=True)
        return self._other_line(buf[pos:end])

    def _msg_line(self, line: bytes | bytearray, *, headers: bool) -> Event | None:
        # Subjects come from publishers (the server passes any bytes but whitespace): one
        # that is not UTF-8 is kept, its stray bytes as surrogates, never refused. (The
        # inlined MSG path decodes strictly and comes here when that fails.)
        spaced = _spaced_msg(line, headers)
        if spaced is not None:
            self._pending = spaced
            return self._payload(spaced)
        parts = _split_args(line)
        count = len(parts)
        try:
            if headers:
                if count == 5:
                    reply = None
                elif count == 6:
                    reply = parts[3].decode(errors="surrogateescape")
                else:
                    raise ValueError
                header_size = int(parts[-2])
                total = int(parts[-1])
                if not 0 <= header_size <= total:
                    raise ValueError
            else:
                if count == 4:
                    reply = None
                elif count == 5:
                    reply = parts[3].decode(errors="surrogateescape")
                else:
                    raise ValueError
                header_size = -1
                total = int(parts[-1])
                if total < 0:
                    raise ValueError
            sid = int(parts[2])
            subject = parts[1].decode(errors="surrogateescape")
        except ValueError:
            raise ProtocolError(f"malformed message line: {bytes(line)[:200]!r}") from None
        pending = (sid, subject, reply, header_size, total)
        self._pending = pending
        return self._payload(pending)

    def _payload(self, pending: tuple[int, str, str | None, int, int]) -> Event | None:
        sid, subject, reply, header_size, total = pending
        buf = self._buf
        start = self._pos
        end = start + total
        if len(buf) < end + 2:
            return None
        if not buf.startswith(b"\r\n", end):
            raise ProtocolError(f"message payload of {total} bytes is not followed by CRLF")
        self._pending = None
        self._pos = self._scan = end + 2
        if header_size < 0:
            payload = self._copy(buf, start, end)
            return _new_msg_event((sid, subject, reply, payload, None, None, ""))
        block = buf[start : start + header_size]
        payload = self._copy(buf, start + header_size, end)
        parsed, status, description = parse_header_block(block)
        return MsgEvent(sid, subject, reply, payload, parsed, status, description)

    @staticmethod
    def _copy(buf: bytes | bytearray, start: int, end: int) -> bytes:
        """``buf[start:end]`` as ``bytes``, copied once."""
        if type(buf) is bytes:
            return buf[start:end]
        if end - start < _COPY_VIA_VIEW:
            return bytes(buf[start:end])
        with memoryview(buf) as view:
            return view[start:end].tobytes()

    def _other_line(self, line: bytes | bytearray) -> Event:
        data = bytes(line)
        if data[:1] in (b" ", b"\t"):
            data = data.lstrip()
        # The operation ends at a space or a tab, as the server's parser reads it
        # ("INFO\t{...}"); one separator, the rest is the arguments' own.
        op, *rest_of_line = _OP_END.split(data, maxsplit=1)
        rest = rest_of_line[0] if rest_of_line else b""
        op = op.upper()
        if op == b"PING":
            return _PING_EVENT
        if op == b"PONG":
            return _PONG_EVENT
        if op == b"+OK":
            return _OK_EVENT
        if op == b"-ERR":
            return ErrEvent(rest.strip().strip(b"'").decode(errors="replace"))
        if op == b"INFO":
            try:
                info = json.loads(rest)
            except (ValueError, RecursionError):  # (nested too deep: RecursionError)
                raise ProtocolError(f"INFO is not JSON: {rest[:200]!r}") from None
            if not isinstance(info, dict):
                raise ProtocolError(f"INFO is not a JSON object: {rest[:200]!r}")
            return InfoEvent(info)
        if op in (b"MSG", b"HMSG"):
            return self._msg_line(bytearray(op + b" " + rest), headers=op == b"HMSG")  # type: ignore[return-value]
        raise ProtocolError(f"unknown protocol operation: {bytes(line)[:200]!r}")


def _spaced_msg(
    line: bytes | bytearray, headers: bool
) -> tuple[int, str, str | None, int, int] | None:
    """A MSG or HMSG line read as ``Parser.next_event``'s inlined path reads MSG, or ``None``.

    That path splits at single spaces only, so a tab inside an argument
    stays in it (``MSG a\tb 1 2``: subject ``a\tb``). The same line whose
    payload comes in a later read is read here first the same way, so that
    its sid, subject and reply do not depend on where a read ended, and an
    HMSG line with the same arguments reads as the MSG line does. Only a
    line this refuses (runs of spaces, a tab between arguments, a subject
    that is not UTF-8) is read leniently by ``_split_args``. The inlined
    path itself does no more work for it. Returns what ``Parser._pending``
    holds: (sid, subject, reply, header bytes or -1 for MSG, total).
    """
    if headers:
        if not line.startswith(b"HMSG "):
            return None
        parts = line[5:].split(b" ")
        with_reply = 5
    else:
        if not line.startswith(b"MSG "):
            return None
        parts = line[4:].split(b" ")
        with_reply = 4
    count = len(parts)
    if count != with_reply and count != with_reply - 1:
        return None
    try:
        total = int(parts[-1])
        header_size = int(parts[-2]) if headers else -1
        sid = int(parts[1])
        subject = parts[0].decode()
        reply = (parts[2].decode() or None) if count == with_reply else None
    except ValueError:
        return None
    if total < 0 or not subject or header_size > total or (headers and header_size < 0):
        return None
    return (sid, subject, reply, header_size, total)


def _split_args(line: bytes | bytearray) -> Sequence[bytes | bytearray]:
    """The arguments of a control line: what spaces and tabs separate, as the server splits.

    Not ``bytes.split()``, which also cuts at ``\x0b`` and ``\x0c``: the
    server passes those in subjects (its ``splitArg`` splits at spaces and
    tabs only), so they belong to the subject or reply they are in.
    """
    parts: Sequence[bytes | bytearray] = line.split(b" ")
    if b"" in parts or b"\t" in line:  # not single spaces: be lenient
        parts = [part for part in line.replace(b"\t", b" ").split(b" ") if part]
    return parts


def parse_header_block(block: bytes | bytearray) -> tuple[Headers, int | None, str]:
    """Parse an ``HMSG`` header block into headers, status code and description.

    Lenient on content (see the module's docstring): never raises.
    """
    lines = bytes(block).decode(errors="replace").split("\r\n")
    status: int | None = None
    description = ""
    first = lines[0]
    if first.startswith("NATS/1.0"):
        rest = first[8:].strip()
        if rest:
            code, _, text = rest.partition(" ")
            if _is_count(code):
                status = int(code)
                description = text.strip()
        lines = lines[1:]
    pairs: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if colon and name:
            pairs.append((name, value.strip()))
    return Headers._trusted(pairs), status, description


# --- commands -------------------------------------------------------------


def connect_command(options: Mapping[str, object]) -> bytes:
    """``CONNECT {json}`` with its CRLF."""
    return b"CONNECT " + json.dumps(dict(options), separators=(",", ":")).encode() + b"\r\n"


def encode_headers(headers: HeadersLike) -> bytes:
    """The header block of an ``HPUB``: ``NATS/1.0``, one line per pair, and a blank line.

    A ``Headers`` keeps its block: encoding it again costs nothing.
    """
    if not isinstance(headers, Headers):
        headers = Headers(headers)
    block = headers._block
    if block is None:
        lines = [_HEADER_PREFIX]
        lines.extend(f"{name}: {value}".encode() for name, value in headers._pairs)
        block = headers._block = b"\r\n".join(lines) + b"\r\n\r\n"
    return block


def pub_command(
    subject: str,
    reply: str | None,
    payload: bytes | bytearray | memoryview,
    header_block: bytes | None = None,
) -> bytes:
    """A whole ``PUB`` (or ``HPUB`` when there is a header block), payload included.

    A ``memoryview`` counts its bytes, not its items (a view of ``array('i')``).
    """
    if type(payload) is not bytes:
        payload = bytes(payload)
    head = f"{subject} {reply} " if reply else f"{subject} "
    if header_block is None:
        return b"PUB " + f"{head}{len(payload)}\r\n".encode() + payload + b"\r\n"
    sizes = f"{len(header_block)} {len(header_block) + len(payload)}"
    return b"HPUB " + f"{head}{sizes}\r\n".encode() + header_block + payload + b"\r\n"


def sub_command(subject: str, queue: str | None, sid: int) -> bytes:
    """``SUB subject [queue] sid``."""
    if queue:
        return f"SUB {subject} {queue} {sid}\r\n".encode()
    return f"SUB {subject} {sid}\r\n".encode()


def unsub_command(sid: int, max_msgs: int | None = None) -> bytes:
    """``UNSUB sid [max_msgs]``."""
    if max_msgs is None:
        return f"UNSUB {sid}\r\n".encode()
    return f"UNSUB {sid} {max_msgs}\r\n".encode()


publish(__name__, globals(), private_package="trouper.nats")  # is_fatal, server_error
