"""The connection: ``connect()``, ``Client``, ``Subscription`` and ``Msg``.

Theory of operation
-------------------
``connect()`` makes the first connection itself (so a bad URL or bad
credentials raise from it), then runs one background task, ``_run``, in a
nursery of its own. ``_run`` serves one connection at a time with four
tasks: the *reader* (receive, parse, dispatch every complete event, with no
task per message), the *writer*, the *pinger* and the *expirer* (see
request/reply below). When any of them fails (a socket error, a
``ProtocolError``, a fatal ``-ERR``, a stale connection) they are all
cancelled, the client reports ``Disconnected``, and ``_run`` reconnects: it
tries the known servers (those given, then those the cluster announced in
``INFO``, reached with the credentials of the URL that announced them), each
no sooner than its backoff allows, redoes the handshake, re-sends ``SUB`` for
every live subscription (with the remaining ``max_msgs``) and then the bytes
buffered during the outage.

Every outgoing byte goes through one ``bytearray``, ``_out``. Publishing
appends to it and wakes the writer; the writer swaps it for an empty one and
sends the whole of it with one ``send_all``. After a quiet spell the first
bytes leave at once, sent by the publishing task itself (``_wake_writer``),
and what the rest of that scheduler round writes leaves in one more send
just before Trio waits for I/O; in a burst (bytes that came while the writer
was sending or within 50 µs of the end of the last send) the writer yields
while the buffer keeps growing (up to 64 KiB), so a burst of publishes
becomes a few system calls rather than one per message, even when the
publisher yields between messages. While connected, ``_out`` above
``write_buffer_size`` makes ``publish`` wait for the writer (backpressure);
while disconnected it is the outage buffer, bounded by
``reconnect_buffer_size``, and a publish that does not fit raises
``OutboundBufferFull``. When a connection breaks, the commands its socket had
not taken whole (the rest of the writer's send, or of a direct send that
stopped part way) go back in front of ``_out`` (``_keep_unwritten``): the
bytes the socket took are scanned command by command, from the start of the
send, to find the first command it did not take whole. Over TLS the stream
does not say how much it took, and the send counts as taken.

PING/PONG: ``_pongs`` holds one entry per PING we sent on the current
connection, oldest first (a waiter for ``flush()``, ``None`` for the
pinger's), since the server answers in order. On a disconnect the waiters fail
with ``ConnectionLost``; PINGs still in ``_out`` after it (never taken, or put
back) will be sent after the reconnect and their PONGs are skipped
(``_stale_pongs``): ``_ping_ends`` says where each PING is in the byte stream.

The client's status moves along this table; nothing else changes it::

    from           event                                   to
    (connect())    first connection up                     CONNECTED
    CONNECTED      the connection fails                    RECONNECTING
    RECONNECTING   a server accepts the handshake          CONNECTED
    RECONNECTING   no server left to try, or no reconnect  CLOSED
    CONNECTED      drain()                                 DRAINING
    DRAINING       the connection fails                    RECONNECTING
    RECONNECTING   a server accepts it, drain() running    DRAINING
    any            close(), end of drain(), callback error CLOSED

A drain survives an outage (``_draining`` stays set): subscribing stays
refused, the subscriptions it ends are not made again on the next
connection (what was on its way to them was lost with the old one), and the
drain goes on there, outage buffer first. A graceful close writes what is
buffered with the status already ``CLOSED`` and the run not yet cancelled; a
``close()`` or ``drain()`` called meanwhile waits for the same bytes, and a
``drain()`` called during a drain waits for that drain (``_drain_done``).

Request/reply uses one wildcard subscription, ``<inbox>.*``, made on first
use; each request registers a handler under a fresh token, and the inbox
subscription's callback hands each reply to its token's handler. JetStream's
pull requests use the same table with handlers that take many messages.
A request that no task waits on (answered by a callback) could wait for a
reply that never comes and stay in the table for as long as the connection:
the *expirer* fails such requests with ``ReplyTimeout`` once they were
written ``reply_timeout`` ago (up to a quarter more: it looks four times per
``reply_timeout``, so publishing pays for it no more than one table entry).
Pull feeds and message streams are also told of each drop (their pulls die
with it: they move to a new inbox, so that the server, which may still hold
those pulls, drops them) and of each reconnect.
"""

from __future__ import annotations

import copy
import enum
import inspect
import math
import random
import secrets
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from importlib import metadata
from time import perf_counter
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import unquote, urlsplit

import attrs
import outcome
import trio
from trio.lowlevel import (
    ParkingLot,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    in_trio_task,
    wait_writable,
)

from trouper._text import is_utf8
from trouper._validate import check_positive_int
from trouper._waiting import Waiter
from trouper.nats._errors import (
    AuthorizationError,
    ConnectError,
    ConnectionClosed,
    ConnectionLost,
    MaxPayloadExceeded,
    NatsError,
    NoResponders,
    OutboundBufferFull,
    PermissionsViolation,
    ProtocolError,
    ReplyTimeout,
    ServerError,
    SlowConsumer,
    StaleConnection,
    SubscriptionClosed,
    is_fatal,
    server_error,
)
from trouper.nats._transport import SocketTransport, open_transport
from trouper.nats.protocol import (
    PING,
    PONG,
    ErrEvent,
    Headers,
    HeadersLike,
    InfoEvent,
    MsgEvent,
    Parser,
    PingEvent,
    PongEvent,
    check_subject,
    connect_command,
    encode_headers,
    parse_header_block,
    sub_command,
    unsub_command,
)

if TYPE_CHECKING:
    from trouper.nats._jetstream import JetStream

__all__ = [
    "AsyncError",
    "Client",
    "ClientEvent",
    "ClientStatistics",
    "Closed",
    "Disconnected",
    "LameDuck",
    "Msg",
    "Reconnected",
    "Status",
    "Subscription",
    "SubscriptionStatistics",
    "connect",
]

try:
    _VERSION = metadata.version("trouper")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    _VERSION = "0"

DEFAULT_URL: Final = "nats://127.0.0.1:4222"
_DEFAULT_PORT: Final = 4222
_RECEIVE_SIZE: Final = 256 * 1024
_COALESCE_LIMIT: Final = 64 * 1024
"""The writer stops waiting for more bytes once it holds this many."""
_BURST_WINDOW: Final = 50e-6
"""Bytes that come within this many seconds of a send's end are part of a burst."""
_FLUSHER_IDLE: Final = 64
"""Scheduler rounds in a row with nothing to send after which the flusher is removed."""
_YIELD_EVERY: Final = 64 * 1024
"""``publish`` yields to the scheduler at least once per this many bytes published."""
_YIELD_EVERY_MSGS: Final = 128
"""``next_msg`` yields at least once per this many messages taken; the reader, handed on."""
_RESERVED_REPLIES: Final = ("_R_.", "_GR_.", "$JS.ACK.")
"""Reply prefixes nats-server keeps for itself (service imports, gateways, JetStream acks)."""
_SUBJECT_CACHE: Final = 4096
"""Subjects remembered as valid (publishing to a known subject skips the check)."""


# --- values ---------------------------------------------------------------


class Status(enum.Enum):
    """Where a client is in its life."""

    CONNECTED = "connected"
    """A connection is up; publishes are written as they come."""
    RECONNECTING = "reconnecting"
    """The connection dropped; publishes go to the bounded outage buffer."""
    DRAINING = "draining"
    """``drain()`` runs: no new subscriptions; publishing still works until it closes.

    An outage during a drain shows as ``RECONNECTING``; the drain goes on
    after the reconnect, and the status is ``DRAINING`` again.
    """
    CLOSED = "closed"
    """For good: every operation raises ``ConnectionClosed``."""


@attrs.frozen
class Msg:
    """A message received on a subscription (or as a reply), with a way to answer it.

    Compared by value (every field but the client); the client it
    came from is not part of the value.
    """

    subject: str
    """The subject it was published on."""
    reply: str | None = None
    """Where an answer goes (``respond()``), or ``None``."""
    data: bytes = b""
    """The payload."""
    headers: Headers | None = None
    """Its headers (``None`` if it was published without any)."""
    status: int | None = None
    """A status code from the server (503 no responders, 408/404/409 for JetStream pulls)."""
    description: str = ""
    """The text that follows the status code ("" if none)."""
    _client: Client | None = attrs.field(default=None, eq=False, repr=False)

    async def respond(self, data: bytes, *, headers: HeadersLike | None = None) -> None:
        """Publish ``data`` to this message's reply subject (same rules as ``publish``).

        Raises:
            ValueError: the message has no reply subject.
        """
        await self._responder().publish(self._reply_subject(), data, headers=headers)

    def respond_nowait(self, data: bytes, *, headers: HeadersLike | None = None) -> None:
        """``respond`` without waiting (same rules as ``publish_nowait``)."""
        self._responder().publish_nowait(self._reply_subject(), data, headers=headers)

    def _reply_subject(self) -> str:
        if not self.reply:
            raise ValueError(f"message on {self.subject!r} has no reply subject")
        return self.reply

    def _responder(self) -> Client:
        if self._client is None:
            raise ValueError(f"message on {self.subject!r} was not received by a client")
        return self._client


@attrs.frozen
class ClientStatistics:
    """Counters of one client since it connected (all connections together)."""

    in_msgs: int
    """Messages received for our subscriptions (including ones then dropped)."""
    in_bytes: int
    """Payload bytes of those messages."""
    out_msgs: int
    """Messages published: counted when buffered, taken back if the client drops one unsent.

    Dropped unsent: over the ``max_payload`` of a server reconnected to or of
    an ``INFO`` that lowered it, or not written whole when the client ended
    (the outage buffer at a close or when reconnecting gave up, the rest of
    the write buffer when the connection dropped during ``close()`` or a
    close was cancelled). So it includes those still buffered
    (``buffered_bytes``) while the client runs, and those the socket took
    before a connection dropped, whether or not the server read them; one
    written again after a reconnect counts once.
    """
    out_bytes: int
    """Payload bytes of the messages ``out_msgs`` counts (without headers)."""
    reconnects: int
    """Successful reconnections."""
    dropped: int
    """Messages dropped by slow subscriptions (all subscriptions together)."""
    buffered_bytes: int
    """Bytes waiting to be written (the outage buffer while reconnecting)."""


@attrs.frozen
class SubscriptionStatistics:
    """Counters of one subscription."""

    delivered: int
    """Messages the server delivered to it (handled, pending or dropped)."""
    pending_msgs: int
    """Messages waiting to be read."""
    pending_bytes: int
    """Payload bytes waiting to be read."""
    dropped: int
    """Messages dropped because the pending buffer was full."""


@attrs.frozen
class Disconnected:
    """The connection dropped; the client reconnects unless it gives up (then ``Closed``)."""

    reason: BaseException | None
    """What ended the connection (``ConnectionLost`` if the server just closed it).

    Typed ``None``-able for compatibility; the client always gives a reason.
    """


@attrs.frozen
class Reconnected:
    """A new connection is up; its subscriptions and the outage buffer are queued on it.

    Queued, not yet written: the writer sends them next, ahead of anything
    published from then on.
    """

    server: str
    """The server now connected to, as ``host:port``."""


@attrs.frozen
class Closed:
    """The client closed for good."""

    reason: BaseException | None
    """``None`` after ``close()``/``drain()``, else why it gave up."""


@attrs.frozen
class AsyncError:
    """An error that belongs to no call: a ``-ERR`` that keeps the connection, a slow consumer.

    Also a publish dropped unsent because it is over a smaller ``max_payload``
    (``MaxPayloadExceeded``): buffered during an outage, that of the server
    reconnected to; still in the write buffer, that of an ``INFO`` the server
    sent meanwhile. Such an event carries what the publish held (``subject``,
    ``reply``, ``payload``, ``headers``), so that its publisher can tell which
    message was lost and act on it (fail what waits for its reply, say); every
    other ``AsyncError`` has ``subject`` ``None``. (A ``request``'s own publish
    is never reported so: the request fails with the error instead.)
    """

    error: NatsError
    """A ``ServerError`` (such as ``PermissionsViolation``), ``SlowConsumer`` or
    ``MaxPayloadExceeded``."""
    subject: str | None = None
    """The subject of the publish dropped unsent; ``None`` unless the event reports one."""
    reply: str | None = None
    """The reply subject of the publish dropped unsent, if it had one."""
    payload: bytes | None = attrs.field(default=None, repr=False)
    """The payload of the publish dropped unsent (without its headers)."""
    headers: Headers | None = None
    """The headers of the publish dropped unsent, if it had any (``None`` for a plain ``PUB``)."""


@attrs.frozen
class LameDuck:
    """The server is shutting down soon (lame duck mode): its clients should move on.

    The client keeps its connection until the server closes it, then
    reconnects elsewhere as usual; this event lets an application prepare.
    """

    server: str
    """The server entering lame duck mode, as ``host:port``."""


ClientEvent = Disconnected | Reconnected | Closed | AsyncError | LameDuck
"""What ``on_event`` is called with."""

ReplyHandler = Callable[["Msg | NatsError"], None]
"""Takes the messages sent to one reply token, or the error that ended the client."""


class _LinkWatcher(Protocol):
    """Told of each connection's loss and of each reconnect (JetStream's pulls die with one)."""

    def _connection_lost(self) -> None:
        """The connection dropped (the status is already ``RECONNECTING``)."""

    def _reconnected(self) -> None:
        """A new connection is up; the outage buffer goes out on it first."""


@attrs.frozen
class _Options:
    servers: tuple[str, ...]
    name: str | None
    user: str | None
    password: str | None
    token: str | None
    tls: ssl.SSLContext | None
    tls_hostname: str | None
    tls_handshake_first: bool
    no_echo: bool
    inbox_prefix: str
    ping_interval: float
    max_outstanding_pings: int
    reply_timeout: float
    allow_reconnect: bool
    max_reconnect_attempts: float
    reconnect_wait: float
    reconnect_max_wait: float
    reconnect_jitter: float
    reconnect_buffer_size: int
    write_buffer_size: int
    connect_timeout: float
    randomize: bool
    pending_msgs_limit: int
    pending_bytes_limit: int
    on_event: Callable[[ClientEvent], None] | None


@attrs.define(eq=False)
class _Server:
    """One server the client may connect to."""

    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None
    token: str | None
    # Whether it came from the cluster's INFO rather than from the caller.
    discovered: bool = False
    # Failed attempts since the last success; a server is dropped past the limit.
    failures: int = 0
    # trio.current_time() before which it is not tried again.
    next_attempt: float = -math.inf

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _parse_server(url: str, *, discovered: bool = False) -> _Server:
    text = url.strip()
    if "://" not in text:
        text = "nats://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("nats", "tls"):
        raise ValueError(f"a server URL must use nats:// or tls://, got {url!r}")
    try:
        port = parts.port or _DEFAULT_PORT
    except ValueError:
        raise ValueError(f"bad port in server URL {url!r}") from None
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in server URL {url!r}")
    user = password = token = None
    if parts.username is not None:
        if parts.password is not None:
            user, password = unquote(parts.username), unquote(parts.password)
        else:
            token = unquote(parts.username)
    return _Server(scheme, host, port, user, password, token, discovered=discovered)


# --- waiting --------------------------------------------------------------


# --- subscriptions ----------------------------------------------------------


class Subscription:
    """Interest in a subject: read it with ``async for msg in sub`` or ``await sub.next_msg()``.

    Made by ``Client.subscribe``. Messages wait in a bounded buffer
    (``pending_msgs_limit`` messages, ``pending_bytes_limit`` bytes); a message
    that does not fit is dropped, counted (``statistics().dropped``) and
    reported once per run of drops as an ``AsyncError(SlowConsumer)`` event.
    With a ``callback`` there is no buffer: the reader task calls it with each
    message. Several tasks may read one subscription; each message goes to
    one of them.

    Iteration ends (and ``next_msg`` raises ``SubscriptionClosed``) once the
    subscription has ended and its buffer is empty: after ``unsubscribe()``,
    ``drain()``, ``max_msgs`` deliveries, or when the client closed. If it
    ended with an error (a refused subscription, a client that gave up
    reconnecting) that error is raised instead.
    """

    __slots__ = (
        "_bytes_limit",
        "_callback",
        "_client",
        "_delivered",
        "_dropped",
        "_dropping",
        "_emptied_lot",
        "_ended",
        "_error",
        "_lot",
        "_max_msgs",
        "_msgs_limit",
        "_on_refused",
        "_pending",
        "_pending_bytes",
        "_sub_end",
        "_yield_budget",
        "queue",
        "sid",
        "subject",
    )

    def __init__(
        self,
        client: Client,
        sid: int,
        subject: str,
        queue: str | None,
        max_msgs: int | None,
        msgs_limit: int,
        bytes_limit: int,
        callback: Callable[[Msg], None] | None,
        on_refused: ReplyHandler | None = None,
    ) -> None:
        # The client it belongs to.
        self._client = client
        self.sid = sid
        """Its id on the connection (kept across reconnects)."""
        self.subject = subject
        """The subject or pattern subscribed to."""
        self.queue = queue
        """The queue group, or ``None``."""
        # Unsubscribe after this many deliveries (None: never).
        self._max_msgs = max_msgs
        # Messages the server delivered so far.
        self._delivered = 0
        # Bounds of the buffer (only used without a callback).
        self._msgs_limit = msgs_limit
        self._bytes_limit = bytes_limit
        # Called by the reader task with each message, instead of buffering.
        self._callback = callback
        # Called with the server's refusal of the SUB (PermissionsViolation), for
        # the client's own subscriptions whose owner waits elsewhere (a pull's inbox).
        self._on_refused = on_refused
        # Messages waiting to be read, oldest first; empty with a callback.
        self._pending: deque[Msg] = deque()
        # Sum of len(data) over _pending.
        self._pending_bytes = 0
        # Messages dropped; and whether we are in a run of drops (reported once).
        self._dropped = 0
        self._dropping = False
        # Readers parked on an empty buffer.
        self._lot = ParkingLot()
        # drain() parked until the buffer is empty.
        self._emptied_lot = ParkingLot()
        # True once no more messages will be added (the buffer may still hold some).
        self._ended = False
        # Raised instead of SubscriptionClosed once ended and empty.
        self._error: BaseException | None = None
        # Messages next_msg may still take before it yields to the scheduler.
        self._yield_budget = _YIELD_EVERY_MSGS
        # The client's _queued at the end of this subscription's latest SUB (and
        # UNSUB max): while above the client's _taken, that SUB is still in the
        # write buffer, and a reconnect does not send another.
        self._sub_end = 0

    def __repr__(self) -> str:
        queue = f" queue={self.queue!r}" if self.queue else ""
        state = " ended" if self._ended else ""
        return f"<Subscription {self.sid} {self.subject!r}{queue}{state}>"

    @property
    def active(self) -> bool:
        """Whether messages may still be added to it."""
        return not self._ended

    def statistics(self) -> SubscriptionStatistics:
        """Its counters now."""
        return SubscriptionStatistics(
            self._delivered, len(self._pending), self._pending_bytes, self._dropped
        )

    def _deliver(self, msg: Msg) -> None:
        self._delivered = delivered = self._delivered + 1
        if self._max_msgs is not None and delivered >= self._max_msgs:
            self._client._forget(self)
            self._end(None)
        callback = self._callback
        if callback is not None:
            callback(msg)
            return
        pending = self._pending
        size = len(msg.data)
        if len(pending) >= self._msgs_limit or self._pending_bytes + size > self._bytes_limit:
            self._dropped += 1
            self._client._dropped += 1
            if not self._dropping:
                self._dropping = True
                self._client._report(
                    AsyncError(SlowConsumer(self.subject, self.sid, self._dropped))
                )
            return
        pending.append(msg)
        self._pending_bytes += size
        if self._lot:
            self._lot.unpark()

    def _end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._error = error
        self._lot.unpark_all()

    def _take(self) -> Msg:
        pending = self._pending
        msg = pending.popleft()
        self._pending_bytes -= len(msg.data)
        self._dropping = False
        if not pending and self._emptied_lot:
            self._emptied_lot.unpark_all()
        return msg

    async def next_msg(self) -> Msg:
        """Return the next message, waiting for one if the buffer is empty.

        A cancellation point on every call; it yields to the scheduler when it
        waits and at least once every 128 messages otherwise (so a reader
        that keeps up pays no scheduler round trip per message).

        Raises:
            SubscriptionClosed: the subscription ended and its buffer is empty.
            ValueError: the subscription has a callback (it has no buffer).
        """
        await checkpoint_if_cancelled()
        if self._callback is not None:
            raise ValueError(f"subscription {self.sid} has a callback; it cannot be read")
        pending = self._pending
        if pending:
            self._yield_budget -= 1
            if self._yield_budget <= 0:
                self._yield_budget = _YIELD_EVERY_MSGS
                await cancel_shielded_checkpoint()
                if not pending:
                    return await self.next_msg()
            return self._take()
        while not pending:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise SubscriptionClosed(self.subject, self.sid)
            await self._lot.park()
        return self._take()

    def __aiter__(self) -> AsyncIterator[Msg]:
        return self

    async def __anext__(self) -> Msg:
        try:
            return await self.next_msg()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    async def unsubscribe(self) -> None:
        """Stop delivery now; messages already buffered can still be read. Idempotent."""
        await checkpoint_if_cancelled()
        self.unsubscribe_nowait()
        await cancel_shielded_checkpoint()

    def unsubscribe_nowait(self) -> None:
        """``unsubscribe`` for synchronous code (a callback): the same, without a checkpoint.

        The UNSUB is written in order with everything this client sent
        before; no message is delivered to the subscription after the call,
        even one the server had already sent. Idempotent.
        """
        if not self._ended:
            self._client._unsubscribe(self)

    async def drain(self) -> None:
        """Unsubscribe, then wait until every message delivered before that has been read.

        Messages in flight when it is called are still delivered (a PING/PONG
        round trip makes sure they have arrived); it returns once the buffer is
        empty. The deadline is the caller's cancel scope.
        """
        if self._ended:
            await self._wait_read()
            return
        client = self._client
        client._send_unsub(self)
        try:
            await client.flush()
        finally:
            client._forget(self)
            self._end(None)
        await self._wait_read()

    async def _wait_read(self) -> None:
        await checkpoint_if_cancelled()
        while self._pending:
            await self._emptied_lot.park()
        await cancel_shielded_checkpoint()


# --- the client -------------------------------------------------------------


class Client:
    """A connection to a NATS server (or cluster), kept up across failures.

    Made by ``connect()``, never directly. Every method may be called from
    any task of the Trio run that made it; none holds a lock while it waits.
    """

    __slots__ = (
        "_checked",
        "_current",
        "_drain_done",
        "_drain_error",
        "_dropped",
        "_flush_due",
        "_flusher",
        "_flushing",
        "_head",
        "_in_bytes",
        "_in_msgs",
        "_inbox",
        "_info",
        "_link_watchers",
        "_max_payload",
        "_next_sid",
        "_next_token",
        "_options",
        "_out",
        "_out_bytes",
        "_out_msgs",
        "_outstanding_pings",
        "_partial",
        "_ping_ends",
        "_pongs",
        "_pulls",
        "_queued",
        "_reason",
        "_reconnected_lot",
        "_reconnects",
        "_reply_handlers",
        "_reply_sub",
        "_requests",
        "_room_lot",
        "_run_scope",
        "_sent_at",
        "_servers",
        "_socket",
        "_stale_pongs",
        "_status",
        "_subs",
        "_taken",
        "_trio_token",
        "_unattended",
        "_unwritten_uncounted",
        "_user_error",
        "_writer_lot",
        "_writing",
        "_written",
        "_yield_budget",
    )

    def __init__(self, options: _Options) -> None:
        # What connect() was given.
        self._options = options
        # Where the client is (see the table in the module docstring).
        self._status = Status.RECONNECTING
        # Made by the drain() that starts a drain (None before), kept across
        # reconnects, set when that drain ends; a drain() called meanwhile waits on it.
        self._drain_done: trio.Event | None = None
        # What ended the drain (None: it finished), for the drain() calls that waited on it.
        self._drain_error: NatsError | None = None
        # Why the client closed (None while open or after a plain close).
        self._reason: BaseException | None = None
        # Servers to try, in order; the current one included.
        self._servers = [_parse_server(url) for url in options.servers]
        if options.randomize:
            random.shuffle(self._servers)
        # The server of the current (or last) connection.
        self._current: _Server | None = None
        # The current server's INFO.
        self._info: dict[str, object] = {}
        # The current server's max_payload (publishes over it are refused).
        self._max_payload = 1024 * 1024
        # Bytes for the writer; the outage buffer while reconnecting.
        self._out = bytearray()
        # The _queued at the end of each PING written whose PONG has not come, oldest
        # first: those of this connection, and those of a lost one still in _out (sent
        # on the next connection, their PONGs are skipped).
        self._ping_ends: deque[int] = deque()
        # Bytes ever put in _out, and ever taken from it (minus those put back in
        # front of it at a disconnect or re-sent there at a reconnect): a request
        # is on the wire once _taken reaches the _queued it left behind it; always
        # _queued - _taken == len(_out).
        self._queued = 0
        self._taken = 0
        # Requests waiting for a reply: token -> the _queued their bytes end at and
        # the subject they were published to (in the order they were made, so in
        # the order of their ends). A refused publish (-ERR 'Permissions Violation
        # for Publish to "x"') fails those written to "x" at once, since the
        # server dropped it and no answer can come.
        self._requests: dict[str, tuple[int, str]] = {}
        # The pulls of fetch, consume and feeds: token of their reply-table entry ->
        # the CONSUMER.MSG.NEXT subject they pull on (a refused pull fails them too).
        self._pulls: dict[str, str] = {}
        # Those of _requests that no task waits on (the expirer fails them after
        # reply_timeout), in the same order: a set kept in order (the values are None).
        self._unattended: dict[str, None] = {}
        # Told of every disconnect and reconnect: the pull feeds and message
        # streams, each there from its making until it closes.
        self._link_watchers: set[_LinkWatcher] = set()
        # The bytes the writer took from _out while it sends them (None between
        # sends); left set if the send fails, for _keep_unwritten.
        self._writing: bytearray | None = None
        # How many of _writing the connection took before the send failed (all of
        # them over TLS, where the stream does not say).
        self._written = 0
        # The current connection's socket while a publisher may write to it
        # itself (plain TCP, connected); None otherwise (TLS, reconnecting).
        self._socket: socket.socket | None = None
        # perf_counter() at the end of the last send: bytes that come within
        # _BURST_WINDOW of it are part of a burst and wait for the writer.
        self._sent_at = -math.inf
        # Bytes at the front of _out (or of _writing, once the writer took them)
        # that continue _head; 0 when what the connection took ends with a whole
        # command.
        self._partial = 0
        # What a direct send (_send_now) that stopped part way sent, from the start
        # of a command: read only while _partial, to find that command again if the
        # connection breaks before the rest is sent.
        self._head = bytearray()
        # Whether _out holds bytes the flusher sends before the scheduler waits
        # (the writer stays parked meanwhile); only while _flushing.
        self._flush_due = False
        # The Trio instrument that calls _flush_due_bytes.
        self._flusher = _Flusher(self)
        # Whether the flusher is installed: from the first time a scheduler round
        # writes again after a send until it has found nothing to send for a while
        # (an instrument costs every scheduler round, so it is not kept for nothing).
        self._flushing = False
        # The Trio run's token (set by connect()): wakes the writer from the flusher.
        self._trio_token: trio.lowlevel.TrioToken | None = None
        # The writer parks here while _out is empty.
        self._writer_lot = ParkingLot()
        # Publishers waiting for room, and close() waiting for the writer.
        self._room_lot = ParkingLot()
        # flush() waiting for a reconnect.
        self._reconnected_lot = ParkingLot()
        # Bytes publish may still add before it yields to the scheduler.
        self._yield_budget = _YIELD_EVERY
        # One entry per PING sent on this connection: a flush waiter or None.
        self._pongs: deque[Waiter[object] | None] = deque()
        # PINGs sent since the last PONG (the pinger's stale check).
        self._outstanding_pings = 0
        # PONGs still to come for PINGs written before a disconnect: skipped.
        self._stale_pongs = 0
        # Live subscriptions by sid.
        self._subs: dict[int, Subscription] = {}
        # The sid the next subscription gets (sids are never reused).
        self._next_sid = 1
        # The wildcard reply subscription, made on first request.
        self._reply_sub: Subscription | None = None
        # "<prefix>.<random>." : reply subjects are this plus a token.
        self._inbox = f"{options.inbox_prefix}.{secrets.token_hex(11)}."
        # Who takes replies to each token (a NatsError instead when the client closes).
        self._reply_handlers: dict[str, ReplyHandler] = {}
        # The last reply token handed out (tokens are never reused).
        self._next_token = 0
        # Subjects already checked.
        self._checked: dict[str, None] = {}
        # The counters of statistics(), over every connection.
        self._in_msgs = self._in_bytes = self._out_msgs = self._out_bytes = 0
        self._reconnects = 0
        self._dropped = 0
        # Whether the publishes never to be written were taken out of _out_msgs and
        # _out_bytes (once, when the client ends: _uncount_unwritten).
        self._unwritten_uncounted = False
        # The scope of _run, cancelled when the client closes.
        self._run_scope = trio.CancelScope()
        # An exception a user callback raised: it leaves the client, not a reconnect.
        self._user_error: BaseException | None = None

    @property
    def _draining(self) -> bool:
        """Whether a drain started (it goes on across reconnects until the close)."""
        return self._drain_done is not None

    def __repr__(self) -> str:
        server = self._current.address if self._current else "-"
        return f"<Client {server} {self._status.value}>"

    # --- what users read ----------------------------------------------------

    @property
    def status(self) -> Status:
        """Where the client is in its life."""
        return self._status

    @property
    def server_info(self) -> dict[str, object]:
        """The current server's ``INFO`` (a copy)."""
        return dict(self._info)

    @property
    def connected_url(self) -> str | None:
        """``host:port`` of the server of the current connection (``None`` while reconnecting)."""
        if self._status in (Status.CONNECTED, Status.DRAINING) and self._current is not None:
            return self._current.address
        return None

    @property
    def servers(self) -> list[str]:
        """Every server the client knows, ``host:port``, those the cluster announced included."""
        return [server.address for server in self._servers]

    @property
    def max_payload(self) -> int:
        """The largest message (headers and payload) the server accepts."""
        return self._max_payload

    def statistics(self) -> ClientStatistics:
        """The client's counters now."""
        return ClientStatistics(
            self._in_msgs,
            self._in_bytes,
            self._out_msgs,
            self._out_bytes,
            self._reconnects,
            self._dropped,
            len(self._out),
        )

    def new_inbox(self) -> str:
        """A fresh subject nobody else uses, under the client's inbox prefix."""
        return f"{self._options.inbox_prefix}.{secrets.token_hex(11)}"

    def jetstream(self, *, prefix: str = "$JS.API", domain: str | None = None) -> JetStream:
        """A JetStream context over this connection (cheap: make one per use if you like)."""
        from trouper.nats._jetstream import JetStream

        return JetStream(self, prefix=prefix, domain=domain)

    # --- publishing -----------------------------------------------------------

    def _check_subject(self, subject: str, what: str) -> None:
        check_subject(subject, what, wildcards=False)
        checked = self._checked
        if len(checked) >= _SUBJECT_CACHE:
            checked.clear()
        checked[subject] = None

    def _buffer_publish(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview,
        reply: str | None,
        headers: HeadersLike | bytes | None,
        *,
        own_reply: bool = False,
        nowait: bool = False,
    ) -> int:
        """Append one PUB/HPUB to ``_out``; return its size. Raises before appending anything.

        ``headers`` may be a header block already encoded (``bytes``, checked
        by its maker); ``own_reply`` says ``reply`` came from ``_reply_subject``
        (valid by construction: it is not checked again). With ``nowait``
        (``publish_nowait``), a write buffer over ``write_buffer_size`` while
        connected refuses the message, after its arguments were checked.
        """
        status = self._status
        if status is Status.CLOSED:
            raise ConnectionClosed(self._closed_reason())
        if subject not in self._checked:
            self._check_subject(subject, "subject")
        if reply is not None and not own_reply and reply not in self._checked:
            self._check_subject(reply, "reply subject")
        if type(payload) is not bytes:
            payload = _payload_bytes(payload)  # before any byte is written
        out = self._out
        size = len(payload)
        if headers is None:
            if size > self._max_payload:
                raise MaxPayloadExceeded(size, self._max_payload)
            if reply is None:
                line = f"PUB {subject} {size}\r\n".encode()
            else:
                line = f"PUB {subject} {reply} {size}\r\n".encode()
            block = b""
        else:
            block = headers if isinstance(headers, bytes) else encode_headers(headers)
            total = len(block) + size
            if total > self._max_payload:
                raise MaxPayloadExceeded(total, self._max_payload)
            if reply is None:
                line = f"HPUB {subject} {len(block)} {total}\r\n".encode()
            else:
                line = f"HPUB {subject} {reply} {len(block)} {total}\r\n".encode()
        added = len(line) + len(block) + size + 2
        if status is Status.RECONNECTING:
            limit = self._options.reconnect_buffer_size
            if len(out) + added > limit:
                raise OutboundBufferFull(added, limit)
        elif nowait and len(out) > self._options.write_buffer_size:
            raise OutboundBufferFull(added, self._options.write_buffer_size)
        out += line
        if block:
            out += block
        out += payload
        out += b"\r\n"
        self._queued += added
        self._out_msgs += 1
        self._out_bytes += size
        if self._writer_lot:
            self._wake_writer()
        return added

    async def publish(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        reply: str | None = None,
        headers: HeadersLike | None = None,
    ) -> None:
        """Publish ``payload`` on ``subject`` (at most once: core NATS does not confirm).

        The message is buffered and written by the client's writer task, in
        order with every other publish of this client. While connected, it
        waits only if the write buffer is over ``write_buffer_size``
        (backpressure), before the message is checked and buffered; while
        reconnecting, the message goes to the outage buffer, sent after the
        reconnect. A buffered message over the ``max_payload`` of the server
        reconnected to, or of an ``INFO`` that lowered it before the message
        was written, is dropped and reported as ``AsyncError(MaxPayloadExceeded)``,
        which carries its subject, reply subject, payload and headers. A
        cancellation point on every call; it yields to the
        scheduler at least once per 64 KiB published (not per message, so a
        loop of publishes neither starves other tasks nor pays a scheduler
        round trip per message). If cancelled, nothing was sent.

        Raises:
            MaxPayloadExceeded: headers and payload exceed the server's ``max_payload``.
            OutboundBufferFull: reconnecting, and the outage buffer has no room.
            ConnectionClosed: the client is closed.
            ValueError: ``subject`` or ``reply`` is not a valid subject, or bad headers.
            TypeError: ``payload`` is not bytes (a ``bytearray`` or ``memoryview``
                is sent as its bytes).
        """
        await checkpoint_if_cancelled()
        if len(self._out) > self._options.write_buffer_size:
            # Before buffering, so that a publish cancelled while it waits sent nothing.
            await self._wait_for_room()
        await self._yield_now_and_then(self._buffer_publish(subject, payload, reply, headers))

    def publish_nowait(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        reply: str | None = None,
        headers: HeadersLike | None = None,
    ) -> None:
        """Publish without waiting, for synchronous code (subscription callbacks).

        The same as ``publish`` except that, connected with the write buffer
        over ``write_buffer_size``, it raises instead of waiting. Its arguments
        are checked first: a bad one raises as in ``publish``, whatever the buffer.

        Raises:
            OutboundBufferFull: the write (or outage) buffer has no room (the
                size it gives is the whole command's, a payload counted in bytes).
            MaxPayloadExceeded, ConnectionClosed, ValueError, TypeError: as ``publish``.
        """
        self._buffer_publish(subject, payload, reply, headers, nowait=True)

    async def _after_write(self, added: int) -> None:
        """Wait for room if the write buffer is over its bound, else yield now and then."""
        if len(self._out) > self._options.write_buffer_size and self._status is not (
            Status.RECONNECTING
        ):
            await self._wait_for_room()
        else:
            await self._yield_now_and_then(added)

    async def _wait_for_room(self) -> None:
        """Wait while connected with the write buffer over ``write_buffer_size`` (backpressure)."""
        while len(self._out) > self._options.write_buffer_size and self._status in (
            Status.CONNECTED,
            Status.DRAINING,
        ):
            await self._room_lot.park()
            self._yield_budget = _YIELD_EVERY  # (it yielded)

    async def _yield_now_and_then(self, added: int) -> None:
        """Yield to the scheduler once ``_YIELD_EVERY`` bytes were written since the last time."""
        self._yield_budget = budget = self._yield_budget - added
        if budget <= 0:
            self._yield_budget = _YIELD_EVERY
            await cancel_shielded_checkpoint()

    def _write(self, data: bytes) -> None:
        self._out += data
        self._queued += len(data)
        if self._writer_lot:
            self._wake_writer()

    def _wake_writer(self) -> None:
        """The writer is parked, so ``_out`` holds only bytes added since: get them out.

        After a quiet spell (nothing sent for ``_BURST_WINDOW``) the publishing
        task sends them itself, at once, with one non-blocking ``send``: a
        request or a reply leaves before its task has even finished its step.
        Bytes written soon after a send (the rest of that scheduler round) are
        left for ``_flush_due_bytes``, which the scheduler calls once every task
        that can run now has run, just before it waits for I/O, so they leave
        in one more ``send``; neither wakes the writer (two task switches per
        round trip saved on each side). That hook is an instrument, installed
        the first time a round writes after a send and removed once it has had
        nothing to send for ``_FLUSHER_IDLE`` rounds, so a request/reply in
        sequence pays for none. In a burst, or when the socket does not take
        every byte, the writer is woken and coalesces as before.
        """
        if self._flush_due:
            return
        if self._socket is not None and in_trio_task():
            # (not from a guest-mode host between Trio's ticks)
            if perf_counter() - self._sent_at >= _BURST_WINDOW:
                if self._flushing:
                    self._flush_due = True  # the rest of the round: at its end
                if self._send_now() or self._room_lot:
                    self._writer_lot.unpark()
                return
            if not self._flushing:
                trio.lowlevel.add_instrument(self._flusher)
                self._flushing = True
                self._flush_due = True
                return
        self._writer_lot.unpark()

    def _send_now(self) -> bool:
        """Send ``_out`` with one non-blocking ``send``; return whether bytes are left.

        Only while the writer is parked and the connection is a plain socket.
        Never raises: an error (no room, a broken connection) leaves the bytes
        for the writer, which copes.
        """
        out = self._out
        assert self._socket is not None
        try:
            sent = self._socket.send(out)
        except OSError:
            return True
        if sent:
            self._sent_at = perf_counter()
            self._taken += sent
            if sent == len(out):
                out.clear()
                self._partial = 0  # nothing begun is left (a later disconnect must cut nothing)
                return False
            if self._partial:  # the rest of an earlier direct send, sent further
                self._head += out[:sent]
            else:
                self._head = out[:sent]
            del out[:sent]
            self._partial = len(out)
        return True

    def _flush_due_bytes(self) -> bool:
        """Send what ``_wake_writer`` left, if the writer is still parked (a Trio hook).

        Called by the scheduler, outside any task, so it must not raise nor
        wake a task directly (the scheduler has already chosen how long to
        wait): when the socket does not take every byte, the writer is woken
        through ``run_sync_soon``, which also ends that wait. Returns whether
        there was anything to send.
        """
        self._flush_due = False
        if not self._out or not self._writer_lot:
            return False  # sent already, or the writer was woken since
        if self._socket is not None and not self._send_now() and not self._room_lot:
            return True
        token = self._trio_token
        if token is not None:
            token.run_sync_soon(self._writer_lot.unpark_all)
        return True

    def _stop_flushing(self) -> None:
        """Remove the flusher (idle, or the client is done); bytes it left go to the writer."""
        if self._flushing:
            self._flushing = False
            with suppress(KeyError, RuntimeError):  # gone already, or the run is over
                trio.lowlevel.remove_instrument(self._flusher)

    async def flush(self) -> None:
        """Wait until the server has processed everything this client sent before the call.

        A PING/PONG round trip. While reconnecting it first waits for the
        reconnect (its outage buffer is sent before the PING). The deadline is
        the caller's cancel scope.

        Raises:
            ConnectionLost: the connection dropped before the PONG came.
            ConnectionClosed: the client is (or gets) closed.
        """
        await checkpoint_if_cancelled()
        while self._status is Status.RECONNECTING:
            await self._reconnected_lot.park()
        if self._status is Status.CLOSED:
            raise ConnectionClosed(self._closed_reason())
        waiter: Waiter[object] = Waiter()
        self._pongs.append(waiter)
        self._write(PING)
        self._ping_ends.append(self._queued)
        await waiter.wait()

    # --- subscribing ------------------------------------------------------------

    async def subscribe(
        self,
        subject: str,
        *,
        queue: str | None = None,
        max_msgs: int | None = None,
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
        callback: Callable[[Msg], None] | None = None,
    ) -> Subscription:
        """Subscribe to ``subject`` (``*`` matches one token, ``>`` the rest).

        With ``queue``, the server gives each message to one member of the
        queue group of that name: any non-empty string without spaces, tabs,
        CR or LF (dots and wildcards are plain characters in it) but
        ``_sys_``, which the server keeps for itself. With ``max_msgs``, the subscription ends
        after that many messages (the server is told, so none more are sent).
        With ``callback`` (a plain function), the client's reader task calls
        it with each message in order, and there is no buffer: it must not
        block, and if it raises, the client closes and the error leaves
        ``connect()``'s ``async with``. The SUB is sent in order with the
        publishes before it; ``await nc.flush()`` after subscribing makes sure
        the server has it before you publish from elsewhere.

        Raises:
            ConnectionClosed: the client is closed or draining.
            ValueError: a bad subject, queue name or limit.
            TypeError: ``callback`` is not a plain function (an ``async def``, say).
        """
        await checkpoint_if_cancelled()
        sub = self._subscribe_now(
            subject,
            queue=queue,
            max_msgs=max_msgs,
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
            callback=callback,
        )
        await cancel_shielded_checkpoint()
        return sub

    def subscribe_nowait(
        self,
        subject: str,
        *,
        callback: Callable[[Msg], None],
        queue: str | None = None,
        max_msgs: int | None = None,
    ) -> Subscription:
        """``subscribe`` with a callback, for synchronous code: the same, without a checkpoint.

        For code that cannot wait (another subscription's callback, a
        synchronous hook): the SUB is queued in order with everything this
        client sent before, and ``callback`` is called by the reader task with
        each message that arrives for it, as with ``subscribe(callback=...)``.

        Raises:
            ConnectionClosed: the client is closed or draining.
            ValueError: a bad subject, queue name or ``max_msgs``.
            TypeError: ``callback`` is not a plain function (an ``async def``, say).
        """
        return self._subscribe_now(subject, queue=queue, max_msgs=max_msgs, callback=callback)

    def _subscribe_now(
        self,
        subject: str,
        *,
        queue: str | None = None,
        max_msgs: int | None = None,
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
        callback: Callable[[Msg], None] | None = None,
        replies: bool = False,
        on_refused: ReplyHandler | None = None,
    ) -> Subscription:
        # replies: the client's own reply subscription, which a drain leaves up until
        # the close (requests made while it drains need it), so it does not refuse it.
        # on_refused: told if the server refuses the SUB (see Subscription._on_refused).
        if self._status is Status.CLOSED:
            raise ConnectionClosed(self._closed_reason())
        if self._draining and not replies:
            raise ConnectionClosed("the client is draining: it takes no new subscriptions")
        check_subject(subject)
        if queue is not None:
            _check_queue(queue)
        if max_msgs is not None and (
            isinstance(max_msgs, bool) or not isinstance(max_msgs, int) or max_msgs < 1
        ):
            raise ValueError(f"max_msgs must be an int >= 1 or None, got {max_msgs!r}")
        msgs_limit = (
            self._options.pending_msgs_limit if pending_msgs_limit is None else pending_msgs_limit
        )
        bytes_limit = (
            self._options.pending_bytes_limit
            if pending_bytes_limit is None
            else pending_bytes_limit
        )
        check_positive_int("pending_msgs_limit", msgs_limit)
        check_positive_int("pending_bytes_limit", bytes_limit)
        if callback is not None:
            _check_callback("callback", callback)
        sid = self._next_sid
        self._next_sid += 1
        sub = Subscription(
            self, sid, subject, queue, max_msgs, msgs_limit, bytes_limit, callback, on_refused
        )
        self._subs[sid] = sub
        self._write(sub_command(subject, queue, sid))
        if max_msgs is not None:
            self._write(unsub_command(sid, max_msgs))
        sub._sub_end = self._queued
        return sub

    def _send_unsub(self, sub: Subscription) -> None:
        if self._status is not Status.CLOSED and sub.sid in self._subs:
            self._write(unsub_command(sub.sid))

    def _unsubscribe(self, sub: Subscription) -> None:
        self._send_unsub(sub)
        self._forget(sub)
        sub._end(None)

    def _forget(self, sub: Subscription) -> None:
        self._subs.pop(sub.sid, None)

    # --- request/reply ----------------------------------------------------------

    def _reply_subject(self, handler: ReplyHandler) -> tuple[str, str]:
        """Register ``handler`` for a fresh reply subject; return (token, subject)."""
        if self._reply_sub is None:
            self._reply_sub = self._subscribe_now(
                self._inbox + "*", callback=self._on_reply, replies=True
            )
        self._next_token += 1
        token = f"{self._next_token:x}"
        self._reply_handlers[token] = handler
        return token, self._inbox + token

    def _pull_entry(self, subject: str, handler: ReplyHandler) -> str:
        """Register ``handler`` of pulls made on ``subject``; return its token.

        An entry of the reply table (``handler`` hears the close) and of
        ``_pulls`` (it hears a refused pull), until ``_forget_pulls``.
        """
        token, _ = self._reply_subject(handler)
        self._pulls[token] = subject
        return token

    def _forget_pulls(self, token: str) -> None:
        self._reply_handlers.pop(token, None)
        self._pulls.pop(token, None)

    def _request_soon(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview,
        headers: HeadersLike | bytes | None,
        on_reply: ReplyHandler,
        *,
        attended: bool = False,
    ) -> tuple[str, int]:
        """Buffer a request whose answer goes to ``on_reply``; return its token and size.

        ``on_reply`` is called once, from the reader task, with the reply, or
        with ``ConnectionLost`` if the connection drops once the request is
        written (its reply was lost with it), or, unless ``attended`` (a task
        waits on it, with its own deadline), with ``ReplyTimeout`` from the
        expirer. Raises before buffering anything (as ``_buffer_publish``),
        and then ``on_reply`` is never called.
        """

        def once(msg: Msg | NatsError) -> None:
            self._forget_request(token)
            on_reply(msg)

        token, reply = self._reply_subject(once)
        try:
            added = self._buffer_publish(subject, payload, reply, headers, own_reply=True)
        except BaseException:
            self._reply_handlers.pop(token, None)
            raise
        self._requests[token] = (self._queued, subject)
        if not attended:
            self._unattended[token] = None
        return token, added

    def _forget_request(self, token: str) -> None:
        self._reply_handlers.pop(token, None)
        self._requests.pop(token, None)
        self._unattended.pop(token, None)

    def _on_reply(self, msg: Msg) -> None:
        handler = self._reply_handlers.get(msg.subject[len(self._inbox) :])
        if handler is not None:
            handler(msg)

    async def request(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        headers: HeadersLike | None = None,
    ) -> Msg:
        """Publish a request and return the first reply.

        There is no timeout parameter: the deadline is the caller's cancel
        scope (``with trio.fail_after(2): await nc.request(...)``). Replies
        come through one wildcard inbox subscription shared by every request
        of this client. A request made while reconnecting is sent after the
        reconnect (if the outage buffer has room); a request already written
        when the connection drops fails at once, since its reply was lost with it.

        Raises:
            NoResponders: nobody subscribes to ``subject`` (the server said 503).
            PermissionsViolation: the server refused the publish (this user may
                not publish to ``subject``); it is reported as an ``AsyncError`` too.
            ConnectionLost: the connection dropped after the request was written.
            MaxPayloadExceeded: as ``publish``; or, still buffered, it is over the
                ``max_payload`` of the server reconnected to or of an ``INFO``
                that lowered it (not sent).
            OutboundBufferFull, ConnectionClosed, ValueError: as ``publish``.
        """
        await checkpoint_if_cancelled()
        waiter: Waiter[object] = Waiter()

        def on_reply(msg: Msg | NatsError) -> None:
            if isinstance(msg, NatsError):
                waiter.settle(outcome.Error(msg))
            elif msg.status == 503 and not msg.data:
                waiter.settle(outcome.Error(NoResponders(subject)))
            else:
                waiter.settle(outcome.Value(msg))

        token, added = self._request_soon(subject, payload, headers, on_reply, attended=True)
        try:
            await self._after_write(added)
            result = await waiter.wait()
        finally:
            self._forget_request(token)  # (cancelled: nobody waits for the answer any more)
        assert isinstance(result, Msg)
        return result

    # --- closing ---------------------------------------------------------------

    async def drain(self) -> None:
        """Unsubscribe everything, let buffered messages be read, then close.

        Messages already on their way are still delivered; the call returns
        once every subscription's buffer has been read and everything published
        has been written, then the client is closed. While reconnecting it
        first waits for the reconnect, so that the outage buffer is written;
        a connection that drops during the drain does not end it either: it
        goes on after the reconnect (subscribing stays refused meanwhile, and
        what was on its way to the subscriptions was lost with the
        connection). Before the close a PING/PONG round trip makes sure the
        server has everything published until then. Requests still waiting
        keep their replies until the close, and requests made meanwhile (to
        answer or acknowledge what is read) get theirs. The deadline is the caller's
        cancel scope; if cancelled, the client is closed at once. Called while
        another ``drain()`` runs, it waits for that drain to end and raises
        what ended it (``ConnectionClosed`` if that call was cancelled);
        called while a ``close()`` writes the buffer, it waits as ``close()``
        does; once the client is closed it returns at once.

        Raises:
            ConnectionClosed: the client gave up reconnecting (what was
                published during the outage was not sent), or the drain this
                call waited for was cancelled.
            ConnectionLost: publishes were not sent: the connection dropped
                while the close wrote them, or after the last PING/PONG with
                publishes made since in the outage buffer (the client is closed).
        """
        done = self._drain_done
        if done is not None and not done.is_set():
            await self._wait_drained(done)
            return
        if self._status is Status.CLOSED:
            await self.close()  # (a close() writing the buffer: wait for it as it says)
            return
        self._drain_done = done = trio.Event()
        # Listed now: a reconnect while draining ends them (their buffers stay to be read).
        subs = [s for s in self._subs.values() if s is not self._reply_sub]
        try:
            if not await self._reconnected():
                raise ConnectionClosed(self._closed_reason())  # gave up reconnecting
            if self._status is Status.CONNECTED:
                self._status = Status.DRAINING
            for sub in subs:
                self._send_unsub(sub)
            await self._flush_across_outages()
            for sub in subs:
                self._forget(sub)
                sub._end(None)
            for sub in subs:
                await sub._wait_read()
            await self._flush_across_outages()
            await self._close_gracefully()
        except BaseException as error:
            self._drain_error = (
                error
                if isinstance(error, NatsError)
                else ConnectionClosed(
                    f"the drain was stopped by {type(error).__name__}: the client closed at once"
                )
            )
            raise
        finally:
            self._abort(None)
            done.set()

    async def _wait_drained(self, done: trio.Event) -> None:
        """Wait for the drain another call runs; raise what ended it. Cancelled, it closes."""
        try:
            await done.wait()
        except BaseException:
            self._abort(None)
            raise
        error = self._drain_error
        if error is not None:
            raise copy.copy(error)  # (one exception object is not raised in two tasks)

    async def _flush_across_outages(self) -> None:
        """``flush()``, again after each reconnect, until the server has answered it."""
        while True:
            try:
                await self.flush()
            except ConnectionLost:
                continue  # (flush() waits for the reconnect, or raises if it never comes)
            return

    async def _reconnected(self) -> bool:
        """Wait while reconnecting; return whether connected again. Cancelled, it closes."""
        try:
            while self._status is Status.RECONNECTING:
                await self._reconnected_lot.park()
        except BaseException:
            self._abort(None)
            raise
        return self._status is not Status.CLOSED

    async def close(self) -> None:
        """Close the connection: write what is buffered, end subscriptions, stop.

        Waiting requests and flushes fail with ``ConnectionClosed``;
        subscriptions end (their buffered messages can still be read). While
        reconnecting there is no connection to write to and ``close()`` does
        not wait for one (``drain()`` does): the outage buffer is dropped, and
        if it held publishes ``close()`` raises ``ConnectionLost`` saying how
        many. Idempotent: called while another ``close()`` (or the end of a
        ``drain()``) writes the buffer, it waits for those bytes too and
        raises as that call does; once closed, it returns at once. If
        cancelled, the connection is closed at once without writing the rest.

        Raises:
            ConnectionLost: publishes were not sent (the client is closed
                either way): the connection dropped before what was buffered
                was written (the message gives the bytes left), or the client
                was reconnecting and its outage buffer held publishes (the
                message gives how many).
        """
        try:
            await self._close_gracefully()  # (closed for good: a checkpoint, no more)
        finally:
            self._abort(None)

    async def _close_gracefully(self) -> None:
        """Write what is buffered and return (the caller then aborts), as ``close()`` says.

        A graceful close runs while the status is ``CLOSED`` and the run is not
        cancelled yet: a call meanwhile waits for the same bytes.
        """
        status = self._status
        if status is Status.RECONNECTING:
            # The outage buffer dies with the client: say so if it held publishes (a
            # SUB or a PING in it is nobody's loss).
            publishes = sum(publish for _, _, publish in _commands(self._out))
            # Closed before the checkpoint: a reconnect meanwhile must not send part of them.
            self._abort(None)
            await trio.lowlevel.checkpoint()
            if publishes:
                raise ConnectionLost(
                    f"the client closed while reconnecting: {publishes} buffered "
                    f"{'publish was' if publishes == 1 else 'publishes were'} not sent"
                )
            return
        if status is not Status.CLOSED:  # CONNECTED, DRAINING
            self._status = Status.CLOSED
            self._reason = None
        elif self._run_scope.cancel_called:  # closed for good
            await trio.lowlevel.checkpoint()
            return
        while (self._out or self._writing is not None) and not self._run_scope.cancel_called:
            await self._room_lot.park()
        # Left unwritten: the connection dropped (or the client was aborted) first.
        writing = self._writing
        unsent = len(self._out) + (0 if writing is None else len(writing) - self._written)
        if unsent:
            raise ConnectionLost(
                f"the connection dropped before {unsent} buffered bytes were written: "
                "they were not sent"
            )
        await trio.lowlevel.checkpoint()

    def _closed_reason(self) -> str:
        if self._reason is None:
            return "the client is closed"
        return f"the client is closed: {self._reason}"

    def _abort(self, reason: BaseException | None) -> None:
        """Close now: no more I/O, every waiter woken with the right error.

        A reply callback that raises (a user's ``on_ack``) does not stop it half
        way: the first such error is raised once everything is done.
        """
        already = self._run_scope.cancel_called
        if self._status is Status.RECONNECTING:
            self._uncount_unwritten()  # (no connection: nothing more is written)
        self._status = Status.CLOSED
        if already:
            return
        self._reason = reason
        self._run_scope.cancel()
        closed = ConnectionClosed(self._closed_reason())
        for waiter in self._pongs:
            if waiter is not None:
                waiter.settle(outcome.Error(closed))
        self._pongs.clear()
        failed = _tell_each(list(self._reply_handlers.values()), lambda: closed)
        self._reply_handlers.clear()
        self._link_watchers.clear()
        end_error = None if reason is None else ConnectionClosed(self._closed_reason())
        for sub in list(self._subs.values()):
            sub._end(end_error)
        self._subs.clear()
        self._room_lot.unpark_all()
        self._reconnected_lot.unpark_all()
        self._writer_lot.unpark_all()
        self._report(Closed(reason))
        self._raise_held(failed)

    def _raise_held(self, failed: BaseException | None) -> None:
        """Raise ``failed``, a user's callback's error (see ``_tell_each``), if any.

        The user's error, whatever its type: it closes the client (as ``_report``'s).
        """
        if failed is not None:
            self._user_error = failed
            raise failed

    def _report(self, event: ClientEvent) -> None:
        on_event = self._options.on_event
        if self._run_scope.cancel_called and type(event) is not Closed:
            # Closed is the last event: once _abort cancelled the run (then
            # reported Closed), the reader may still finish the batch it holds.
            return
        if on_event is not None:
            try:
                on_event(event)
            except BaseException as error:
                # The user's error, whatever its type (an OSError too): it closes the
                # client and leaves connect()'s block; it is no broken connection.
                self._user_error = error
                raise

    # --- the connection --------------------------------------------------------

    async def _open(self, server: _Server) -> tuple[trio.abc.Stream, Parser]:
        """Connect to ``server`` and do the handshake; return the stream and its parser."""
        options = self._options
        with trio.fail_after(options.connect_timeout):
            stream: trio.abc.Stream = await open_transport(server.host, server.port)
            try:
                tls = options.tls
                if tls is None and server.scheme == "tls":
                    tls = ssl.create_default_context()
                hostname = options.tls_hostname or server.host
                if tls is not None and options.tls_handshake_first:
                    stream = trio.SSLStream(stream, tls, server_hostname=hostname)
                    await stream.do_handshake()
                parser = Parser()
                info = await _read_info(stream, parser)
                if not isinstance(stream, trio.SSLStream):
                    if info.get("tls_required") and tls is None:
                        tls = ssl.create_default_context()
                    if tls is not None:
                        if not (info.get("tls_required") or info.get("tls_available")):
                            raise ConnectError(f"server {server.address} does not offer TLS")
                        stream = trio.SSLStream(stream, tls, server_hostname=hostname)
                        await stream.do_handshake()
                await stream.send_all(connect_command(self._connect_options(server, tls)) + PING)
                while True:
                    event = await _next_event(stream, parser)
                    if isinstance(event, PongEvent):
                        break
                    if isinstance(event, ErrEvent):
                        raise server_error(event.text)
                    if isinstance(event, PingEvent):
                        await stream.send_all(PONG)
                    elif isinstance(event, InfoEvent):
                        info = event.info
                self._on_info(info, server)  # (on_event may raise: the stream is closed then)
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
        self._current = server
        return stream, parser

    def _connect_options(self, server: _Server, tls: ssl.SSLContext | None) -> dict[str, object]:
        options = self._options
        connect: dict[str, object] = {
            "verbose": False,
            "pedantic": False,
            "tls_required": tls is not None,
            "lang": "python-trio",
            "version": _VERSION,
            "protocol": 1,
            "headers": True,
            "no_responders": True,
            "echo": not options.no_echo,
        }
        if options.name is not None:
            connect["name"] = options.name
        user = server.user if server.user is not None else options.user
        password = server.password if server.password is not None else options.password
        token = server.token if server.token is not None else options.token
        if user is not None:
            connect["user"] = user
            connect["pass"] = password or ""
        elif token is not None:
            connect["auth_token"] = token
        return connect

    def _on_info(self, info: dict[str, object], server: _Server | None) -> None:
        if info.get("ldm") and server is not None and self._status is not Status.CLOSED:
            self._report(LameDuck(server.address))
        self._info = info
        max_payload = info.get("max_payload")
        # A JSON integer above zero, not a boolean (an int to Python: true would be
        # a limit of 1). Another value is ignored, as the other fields' bad values
        # are: the limit stays what it was.
        if type(max_payload) is int and max_payload > 0:
            self._max_payload = max_payload
        urls = info.get("connect_urls")
        if isinstance(urls, list):
            known = {s.address for s in self._servers}
            for url in urls:
                if not isinstance(url, str):
                    continue
                try:
                    found = _parse_server(url, discovered=True)
                except ValueError:
                    continue
                if found.address not in known:
                    if server is not None:
                        # A cluster shares its scheme and its users: the credentials
                        # of the announcing server's URL are those of the server too.
                        found.scheme = server.scheme
                        found.user, found.password = server.user, server.password
                        found.token = server.token
                    self._servers.append(found)
                    known.add(found.address)

    async def _connect_first(self) -> tuple[trio.abc.Stream, Parser]:
        errors: list[str] = []
        refused: BaseException | None = None
        for server in list(self._servers):
            try:
                opened = await self._open(server)
            except AuthorizationError as error:
                refused = error
                errors.append(f"{server.address}: {error}")
            except _CONNECT_ERRORS as error:
                if error is self._user_error:
                    raise  # on_event's own error (an OSError too): no failed attempt
                errors.append(f"{server.address}: {_describe(error)}")
            else:
                self._status = Status.CONNECTED
                return opened
        if refused is not None:
            raise refused
        raise ConnectError("could not connect to any server: " + "; ".join(errors))

    async def _run(self, stream: trio.abc.Stream, parser: Parser) -> None:
        with self._run_scope:
            try:
                while True:
                    reason = await self._serve(stream, parser)
                    if self._status is Status.CLOSED:
                        return
                    self._on_disconnect(reason)
                    opened = await self._reconnect(reason)
                    if opened is None:
                        return
                    stream, parser = opened
            finally:
                # Every connection is over: what was not written never will be (and a
                # graceful close waiting for it learns that from this _abort).
                self._uncount_unwritten()
                self._abort(self._reason if self._user_error is None else self._user_error)

    async def _serve(self, stream: trio.abc.Stream, parser: Parser) -> BaseException | None:
        """Run reader, writer and pinger on one connection until it fails; return why."""
        failure: list[BaseException | None] = []
        if isinstance(stream, SocketTransport):
            self._socket = stream.socket
        try:
            async with trio.open_nursery() as nursery:

                async def guard(
                    fn: Callable[[trio.abc.Stream, Parser], object], *args: object
                ) -> None:
                    try:
                        await fn(stream, parser)  # type: ignore[misc]
                    except (
                        OSError,
                        trio.BrokenResourceError,
                        trio.ClosedResourceError,
                        ProtocolError,
                        ServerError,
                        ConnectionLost,
                    ) as error:
                        if error is self._user_error:
                            raise
                        if not failure:
                            failure.append(error)
                        nursery.cancel_scope.cancel()

                nursery.start_soon(guard, self._reader)
                nursery.start_soon(guard, self._writer)
                nursery.start_soon(guard, self._pinger)
                nursery.start_soon(guard, self._expirer)
        finally:
            self._socket = None
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
        return failure[0] if failure else None

    async def _reader(self, stream: trio.abc.Stream, parser: Parser) -> None:
        receive = stream.receive_some
        feed = parser.feed
        next_event = parser.next_event
        subs = self._subs
        # A plain socket does not yield after a receive that found data waiting;
        # then the reader yields itself (TLS streams always do). It also yields
        # once per _YIELD_EVERY_MSGS messages handed to subscriptions, so that
        # the tasks its callbacks feed (actors) keep pace with a large receive.
        transport = stream if isinstance(stream, SocketTransport) else None
        budget = _YIELD_EVERY_MSGS
        # The parser may already hold events: what came in the handshake's last
        # receive behind its PONG (nats-server sends an INFO there). They are
        # handled first, not left until the server happens to send more.
        while True:
            while (event := next_event()) is not None:
                if type(event) is MsgEvent:
                    sid, subject, reply, payload, headers, status, description = event
                    self._in_msgs += 1
                    self._in_bytes += len(payload)
                    sub = subs.get(sid)
                    if sub is not None:
                        try:
                            sub._deliver(
                                Msg(subject, reply, payload, headers, status, description, self)
                            )
                        except BaseException as error:
                            self._user_error = error
                            raise
                        budget -= 1
                        if not budget:
                            budget = _YIELD_EVERY_MSGS
                            await cancel_shielded_checkpoint()
                else:
                    self._on_control(event)
            data = await receive(_RECEIVE_SIZE)
            if not data:
                raise ConnectionLost("the server closed the connection")
            if transport is not None and not transport.waited:
                await cancel_shielded_checkpoint()
            budget = _YIELD_EVERY_MSGS
            feed(data)

    def _on_control(self, event: object) -> None:
        if isinstance(event, PingEvent):
            self._write(PONG)
        elif isinstance(event, PongEvent):
            if self._ping_ends:
                self._ping_ends.popleft()
            if self._stale_pongs:
                self._stale_pongs -= 1
                return
            self._outstanding_pings = 0
            if self._pongs:
                waiter = self._pongs.popleft()
                if waiter is not None:
                    waiter.settle(outcome.Value(None))
        elif isinstance(event, ErrEvent):
            error = server_error(event.text)
            if is_fatal(event.text):
                raise error
            failed: BaseException | None = None
            if isinstance(error, PermissionsViolation) and error.operation == "subscription":
                for sub in list(self._subs.values()):
                    if error._refuses(sub.subject, sub.queue, sub.sid):
                        self._forget(sub)
                        sub._end(error)
                        if sub is self._reply_sub:
                            # No reply can come: the waiting requests fail now,
                            # and the next request subscribes again.
                            self._reply_sub = None
                            handlers = self._reply_handlers
                            failed = _tell_each(
                                (handlers.get(token) for token in list(self._requests)),
                                lambda: error,
                            )
                        elif sub._on_refused is not None:
                            # A pull's own inbox: no pulled message can come.
                            failed = failed or _tell_each((sub._on_refused,), lambda: error)
            elif isinstance(error, PermissionsViolation) and error.operation == "publish":
                failed = self._refuse_requests(error)
            elif isinstance(error, PermissionsViolation) and (reply := error._refused_reply()):
                failed = self._refuse_reply(error, reply)
            self._report(AsyncError(error))
            self._raise_held(failed)
        elif isinstance(event, InfoEvent):
            limit = self._max_payload
            self._on_info(event.info, self._current)
            if self._max_payload < limit:
                # What is still in the write buffer was checked against the old limit.
                oversized, failed = self._drop_oversized()
                for unsent in oversized:
                    self._report(unsent)
                self._raise_held(failed)

    def _refuse_requests(self, error: PermissionsViolation) -> BaseException | None:
        """Fail the written requests (and pulls) to the subject whose publish the server refused.

        The server drops a refused publish, so no reply can come. Requests
        still buffered are left: each gets its own refusal once written. Every
        handler hears it; the first error one raised (a user's on_ack) is returned.
        """
        refused, taken = error.subject, self._taken
        tokens = [t for t, (end, to) in self._requests.items() if to == refused and end <= taken]
        tokens += [token for token, to in self._pulls.items() if to == refused]

        def forgotten(token: str) -> ReplyHandler | None:
            handler = self._reply_handlers.get(token)
            self._forget_request(token)
            self._pulls.pop(token, None)
            return handler

        return _tell_each(map(forgotten, tokens), lambda: error)  # (each forgotten as it hears)

    def _refuse_reply(self, error: PermissionsViolation, reply: str) -> BaseException | None:
        """Fail what waits for replies on the subject the server refused as a reply subject.

        The server refuses a publish whose reply subject it reserves (``_R_.``,
        ``_GR_.``, ``$JS.ACK.``: ``connect`` refuses such an ``inbox_prefix``,
        but a publish may name one) and drops it:
        the request with that reply, or the pulls of the inbox subscription
        to it, can get no answer. Returns the first error a handler raised.
        """
        handlers: list[ReplyHandler | None] = []
        if reply.startswith(self._inbox):
            token = reply[len(self._inbox) :]
            if token in self._requests:
                handlers.append(self._reply_handlers.get(token))
                self._forget_request(token)
        handlers += [sub._on_refused for sub in self._subs.values() if sub.subject == reply]
        return _tell_each(handlers, lambda: error)

    async def _writer(self, stream: trio.abc.Stream, parser: Parser) -> None:
        # Bytes that come soon after a send (while it ran, or within
        # _BURST_WINDOW of its end) are a burst: the writer then waits while the
        # buffer keeps growing, up to 64 KiB, so the burst leaves in few system
        # calls rather than one per message, even from a publisher that yields
        # between messages. Bytes after a quiet spell leave at once (request/reply).
        while True:
            if not self._out:
                self._room_lot.unpark_all()
                await self._writer_lot.park()
                continue
            if perf_counter() - self._sent_at < _BURST_WINDOW:
                # Trio runs the tasks of a scheduler round in no fixed order, so
                # one round without growth proves nothing: wait for two.
                size = len(self._out)
                still = 0
                while size < _COALESCE_LIMIT and still < 2:
                    await cancel_shielded_checkpoint()
                    grown = len(self._out)
                    still = still + 1 if grown == size else 0
                    size = grown
            data = self._out
            self._out = bytearray()
            self._taken += len(data)
            self._writing = data
            sock = self._socket
            if sock is None:  # TLS: the stream does not say how much it took
                try:
                    await stream.send_all(data)
                except BaseException:
                    self._written = len(data)
                    raise
            else:  # send_all, counting what the socket takes
                sent = 0
                with memoryview(data) as view:
                    try:
                        while sent < len(view):
                            try:
                                sent += sock.send(view[sent:])
                            except BlockingIOError:
                                await wait_writable(sock)
                    except BaseException:
                        self._written = sent
                        raise
            self._writing = None
            if self._partial:  # the direct send's rest is out: its command is whole
                self._partial = 0
                self._head = bytearray()
            self._sent_at = perf_counter()
            if self._room_lot:
                self._room_lot.unpark_all()

    async def _pinger(self, stream: trio.abc.Stream, parser: Parser) -> None:
        options = self._options
        while True:
            await trio.sleep(options.ping_interval)
            if self._outstanding_pings >= options.max_outstanding_pings:
                raise StaleConnection(
                    f"no PONG for {self._outstanding_pings} PINGs ({options.ping_interval} s apart)"
                )
            self._outstanding_pings += 1
            self._pongs.append(None)
            self._write(PING)
            self._ping_ends.append(self._queued)

    async def _expirer(self, stream: trio.abc.Stream, parser: Parser) -> None:
        # Four looks per reply_timeout, each remembering how far the connection
        # had written: a request whose bytes ended by the mark of four looks ago
        # was written at least reply_timeout ago. Tokens come in the order
        # requests are buffered, so the oldest are first in _unattended.
        timeout = self._options.reply_timeout
        marks: deque[int] = deque()
        while True:
            marks.append(self._taken)
            await trio.sleep(timeout / 4)
            if len(marks) < 4:
                continue
            mark = marks.popleft()
            unattended, requests = self._unattended, self._requests
            expired = []
            for token in unattended:
                request = requests.get(token)
                if request is None or request[0] > mark:
                    break
                expired.append((token, request[1]))
            for token, subject in expired:
                handler = self._reply_handlers.get(token)
                self._forget_request(token)
                if handler is not None:
                    try:
                        handler(ReplyTimeout(subject, timeout))
                    except BaseException as error:
                        self._user_error = error
                        raise

    def _on_disconnect(self, reason: BaseException | None) -> None:
        self._status = Status.RECONNECTING
        self._flush_due = False
        self._keep_unwritten()
        # PINGs still in _out go out on the next connection: their PONGs are skipped.
        taken, ends = self._taken, self._ping_ends
        while ends and ends[0] <= taken:
            ends.popleft()
        self._stale_pongs = len(ends)
        self._outstanding_pings = 0
        why = _describe(reason)
        lost = ConnectionLost(f"the connection dropped: {why}")
        for waiter in self._pongs:
            if waiter is not None:
                waiter.settle(outcome.Error(lost))
        self._pongs.clear()
        # Requests already written may have been answered on the lost connection:
        # their replies are gone, so they fail now rather than at their deadline.
        # Those still in the outage buffer go out after the reconnect. A user's
        # callback (on_ack...) that raises does not stop this half way: its error
        # closes the client once the drop is reported (as in _abort).
        handlers = self._reply_handlers
        failed = _tell_each(
            (
                handlers.get(token)
                for token, (end, _) in list(self._requests.items())
                if end <= self._taken
            ),
            lambda: ConnectionLost(f"the connection dropped after the request was sent: {why}"),
        )
        for watcher in list(self._link_watchers):
            watcher._connection_lost()
        self._room_lot.unpark_all()
        self._report(Disconnected(reason))
        self._raise_held(failed)

    def _keep_unwritten(self) -> None:
        """Put back in front of ``_out`` every command the lost connection did not take whole.

        The rest of the writer's send, or of a direct send that stopped part
        way: from the first command the socket did not take whole (sent again
        whole, since the server drops a command cut by the end of its
        connection), in order, before what was buffered since; the outage
        buffer's limit then counts them. A cold path: it scans the bytes the
        socket took, command by command, nothing else.
        """
        writing = self._writing
        if writing is None and not self._partial:
            return  # what the connection took ends with a whole command
        stream = self._head if self._partial else bytearray()
        written = len(stream)
        if writing is not None:
            stream += writing
            written += self._written
        # Without the writer's send, the direct send's cut command goes on at the front
        # of _out (the connection broke before the writer took it). Over TLS the whole
        # send counts as taken: no scan.
        if writing is None or written < len(stream):
            stream += self._out
            self._out = stream[_unwritten_from(stream, written) :]
            self._taken = self._queued - len(self._out)
        self._writing = None
        self._partial = 0
        self._head = bytearray()

    async def _reconnect(
        self, reason: BaseException | None
    ) -> tuple[trio.abc.Stream, Parser] | None:
        options = self._options
        if not options.allow_reconnect:
            self._abort(reason)
            return None
        if self._current is not None:
            self._current.next_attempt = trio.current_time() + self._backoff(self._current)
        last_error = reason
        while True:
            candidates = [s for s in self._servers if s.failures < options.max_reconnect_attempts]
            if not candidates:
                self._abort(last_error)
                return None
            server = min(candidates, key=lambda s: s.next_attempt)
            await trio.sleep_until(server.next_attempt)
            try:
                stream, parser = await self._open(server)
            except _CONNECT_ERRORS as error:
                if error is self._user_error:
                    raise  # on_event's own error (an OSError too): no failed attempt
                server.failures += 1
                server.next_attempt = trio.current_time() + self._backoff(server)
                last_error = error
                continue
            server.failures = 0
            oversized, failed = self._drop_oversized()
            self._resubscribe()
            self._status = Status.DRAINING if self._draining else Status.CONNECTED
            self._reconnects += 1
            self._reconnected_lot.unpark_all()
            for watcher in list(self._link_watchers):
                watcher._reconnected()
            try:
                self._report(Reconnected(server.address))
                for unsent in oversized:
                    self._report(unsent)
                self._raise_held(failed)
            except BaseException:
                # on_event's own error closes the client: the new connection with it.
                await trio.aclose_forcefully(stream)
                raise
            return stream, parser

    def _drop_oversized(self) -> tuple[list[AsyncError], BaseException | None]:
        """Take out of ``_out`` each publish over the ``max_payload`` now in force.

        A publish buffered during an outage, or before an INFO that lowered
        the limit, was checked against the old ``max_payload``; sent to a
        server that takes less, it would be answered with the fatal
        ``-ERR 'Maximum Payload Violation'``, losing the connection and what
        it had taken. Each such publish is dropped instead (and no longer
        counted in ``out_msgs``): a request's handler hears
        ``MaxPayloadExceeded`` (its caller, or its ``on_ack``, learns it was
        not sent); the others are returned, as the ``AsyncError(MaxPayloadExceeded)``
        events that report them with what they held. Returns them and the first error a
        request's handler raised (see ``_tell_each``). A command a direct send
        began is left whole (its head is on the wire). A cold path (a
        reconnect, an INFO): the buffer's commands are scanned, payloads skipped.
        """
        limit, out, taken = self._max_payload, self._out, self._taken
        skip = 0  # where the first command of out that nothing was sent of starts
        if self._partial and self._writing is None:
            # out may go on with a command whose head a direct send sent (_head).
            head = self._head
            for start, end, _ in _commands(head + out):
                if end > len(head):
                    if start < len(head):
                        skip = end - len(head)
                    break
        dropped: list[tuple[int, int, int]] = []  # (start, end, size) in out
        for start, end, publish in _commands(out[skip:]):
            if publish:
                start += skip
                end += skip
                size = end - out.find(b"\r\n", start) - 4
                if size > limit:
                    dropped.append((start, end, size))
        if not dropped:
            return [], None
        for start, _, size in dropped:
            self._uncount(out, start, size)
        # Everything positioned after a dropped command moves back by its length.
        cuts = [(taken + end, end - start) for start, end, _ in dropped]

        def moved(position: int) -> int:
            return position - sum(length for cut_end, length in cuts if cut_end <= position)

        by_end = {end: token for token, (end, _) in self._requests.items() if end > taken}
        handlers: list[ReplyHandler] = []
        refused: list[MaxPayloadExceeded] = []  # (what handlers[i] is told)
        lost: list[AsyncError] = []
        for start, end, size in dropped:
            token = by_end.get(taken + end)
            if token is None:
                lost.append(_dropped_publish(out, start, end, MaxPayloadExceeded(size, limit)))
            else:
                handler = self._reply_handlers.get(token)
                if handler is not None:
                    handlers.append(handler)
                    refused.append(MaxPayloadExceeded(size, limit))
                self._forget_request(token)
        for start, end, _ in reversed(dropped):  # (from the end: what is before stays put)
            del out[start:end]
        requests = self._requests
        for token, (end, subject) in list(requests.items()):
            requests[token] = (moved(end), subject)  # (in place: the order stays)
        ends = self._ping_ends
        ends.extend([moved(ends.popleft()) for _ in range(len(ends))])
        for sub in self._subs.values():
            sub._sub_end = moved(sub._sub_end)
        self._queued = taken + len(out)
        errors = iter(refused)
        return lost, _tell_each(handlers, lambda: next(errors))

    def _uncount(self, data: bytearray, start: int, size: int) -> None:
        """Take out of the statistics the publish at ``data[start]``, dropped unsent.

        ``size`` is its headers and payload; ``out_bytes`` counted the payload alone.
        """
        self._out_msgs -= 1
        if data[start] == 0x48:  # HPUB ... <header bytes> <total>
            size -= int(bytes(data[start : data.find(b"\r\n", start)]).split(b" ")[-2])
        self._out_bytes -= size

    def _uncount_unwritten(self) -> None:
        """Take out of the statistics every publish the client will never write, once.

        Called when no more bytes can be written (the client ends): those the
        connection did not take whole, the rest of the writer's send and of a
        direct send included (as ``_keep_unwritten`` finds them, without
        moving them), and the whole outage buffer.
        """
        if self._unwritten_uncounted:
            return
        self._unwritten_uncounted = True
        stream = bytearray(self._head) if self._partial else bytearray()
        written = len(stream)
        if self._writing is not None:
            stream += self._writing
            written += self._written
        stream += self._out
        unwritten = stream[_unwritten_from(stream, written) :]
        for start, end, publish in _commands(unwritten):
            if publish:
                self._uncount(unwritten, start, end - unwritten.find(b"\r\n", start) - 4)

    def _backoff(self, server: _Server) -> float:
        options = self._options
        doubled = options.reconnect_wait * 2.0 ** max(server.failures - 1, 0)
        return min(doubled, options.reconnect_max_wait) + random.uniform(
            0, options.reconnect_jitter
        )

    def _resubscribe(self) -> None:
        # A subscription whose SUB is still in _out (made during the outage, or
        # not yet written when the connection dropped) gets it from there, in
        # order with what was buffered around it; the others get one in front.
        commands = bytearray()
        taken = self._taken
        resent: list[tuple[Subscription, int]] = []
        for sub in list(self._subs.values()):
            if self._draining and sub is not self._reply_sub:
                # drain() unsubscribed it; what was on its way was lost with the connection.
                self._forget(sub)
                sub._end(None)
                continue
            if sub._sub_end > taken:
                continue
            commands += sub_command(sub.subject, sub.queue, sub.sid)
            if sub._max_msgs is not None:
                commands += unsub_command(sub.sid, sub._max_msgs - sub._delivered)
            resent.append((sub, len(commands)))
        self._out[0:0] = commands
        self._taken = taken = taken - len(commands)
        for sub, end in resent:
            sub._sub_end = taken + end
        if self._writer_lot:
            self._writer_lot.unpark()


class _Flusher(trio.abc.Instrument):
    """Sends a client's due bytes when the scheduler is about to wait for I/O.

    Removes itself after ``_FLUSHER_IDLE`` rounds in a row with nothing to send.
    """

    __slots__ = ("_client", "_idle")

    def __init__(self, client: Client) -> None:
        # The client whose bytes it sends.
        self._client = client
        # Rounds in a row in which it had nothing to send.
        self._idle = 0

    def before_io_wait(self, timeout: float) -> None:
        client = self._client
        if client._flush_due and client._flush_due_bytes():
            self._idle = 0
        elif self._idle < _FLUSHER_IDLE:
            self._idle += 1
        else:
            self._idle = 0
            client._stop_flushing()


async def _next_event(stream: trio.abc.Stream, parser: Parser) -> object:
    while True:
        event = parser.next_event()
        if event is not None:
            return event
        data = await stream.receive_some(_RECEIVE_SIZE)
        if not data:
            raise ConnectionLost("the server closed the connection during the handshake")
        parser.feed(data)


async def _read_info(stream: trio.abc.Stream, parser: Parser) -> dict[str, object]:
    event = await _next_event(stream, parser)
    if isinstance(event, ErrEvent):
        raise server_error(event.text)
    if not isinstance(event, InfoEvent):
        raise ProtocolError(f"the server did not start with INFO but with {event!r}")
    return event.info


_CONNECT_ERRORS = (OSError, trio.TooSlowError, trio.BrokenResourceError, NatsError, ssl.SSLError)
"""What a failed connection attempt raises (anything else is a bug and propagates)."""


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "closed by the server"
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    cause = error.__cause__ or error.__context__
    if cause is not None and not str(error):
        text += f" ({type(cause).__name__}: {cause})"
    return text


def _unwritten_from(data: bytearray, written: int) -> int:
    """Where the first command not wholly within ``data[:written]`` starts (``len(data)``: none).

    ``data`` starts with a command and holds what this client writes: control
    lines ending with CRLF, each PUB/HPUB line followed by as many bytes as its
    last field says and a CRLF (payloads are skipped, never searched). A SUB
    and the UNSUB right after it for the same sid (its ``max_msgs``) count as
    one: if the UNSUB was not taken whole, the SUB is not counted as taken
    either, so that the next connection gets the pair.
    """
    start, before = 0, -1
    for begin, end, _ in _commands(data):
        if end > written:
            break
        start, before = end, begin
    if before >= 0 and data.startswith(b"UNSUB ", start) and data.startswith(b"SUB ", before):
        sub_line = data[before : data.find(b"\r\n", before)]
        unsub_line = data[start : data.find(b"\r\n", start)]
        if sub_line.rsplit(b" ", 1)[1] == unsub_line.split(b" ", 2)[1]:
            return before
    return start


def _dropped_publish(data: bytearray, start: int, end: int, error: NatsError) -> AsyncError:
    """The ``AsyncError`` that reports the PUB/HPUB at ``data[start:end]`` dropped unsent.

    It carries the publish's subject, reply subject, payload and headers, read
    back from the command this client wrote (a cold path: a drop is rare).
    """
    eol = data.find(b"\r\n", start)
    words = bytes(data[start:eol]).decode().split(" ")
    body = bytes(data[eol + 2 : end - 2])
    headers: Headers | None = None
    if words[0] == "HPUB":  # HPUB <subject> [reply] <header bytes> <total bytes>
        split = int(words[-2])
        headers = parse_header_block(body[:split])[0]
        body = body[split:]
        words = words[:-1]
    reply = words[2] if len(words) == 4 else None  # PUB <subject> [reply] <bytes>
    return AsyncError(error, words[1], reply, body, headers)


def _commands(data: bytearray) -> Iterator[tuple[int, int, bool]]:
    """Each command of ``data`` (what this client writes): its start, its end, whether it publishes.

    ``data`` starts with a command; a PUB/HPUB's payload is skipped by the size
    its line gives, never searched. A cold path (a disconnect, a close).
    """
    start = 0
    while start < len(data):
        eol = data.find(b"\r\n", start)
        if eol < 0:
            return  # (not reached: data ends with a whole command)
        end = eol + 2
        publish = data[start] == 0x48 or data.startswith(b"PUB ", start)  # HPUB, PUB
        if publish:
            end += int(data[data.rfind(b" ", start, eol) + 1 : eol]) + 2
        yield start, end, publish
        start = end


_QUEUE_SEPARATORS: Final = frozenset(" \t\r\n")
"""What ends an argument of a SUB line for the server (its ``splitArg``)."""


def _check_queue(queue: object) -> None:
    """Refuse a queue group name the server would not read as one, as ``subscribe`` says.

    The server takes any argument of the SUB line as the queue group and
    groups members by its bytes: dots, wildcards, NUL or a form feed are
    plain bytes to it (it is no subject). It refuses ``_sys_`` to clients.
    """
    if not isinstance(queue, str) or not queue or not _QUEUE_SEPARATORS.isdisjoint(queue):
        raise ValueError(
            f"a queue group must be a non-empty string without spaces, tabs, CR or LF, "
            f"got {queue!r}"
        )
    if queue == "_sys_":
        raise ValueError(
            "the queue group '_sys_' is reserved by the server for its own subscriptions"
        )
    if not is_utf8(queue):
        raise ValueError(f"a queue group must be encodable as UTF-8, got {queue!r}")


def _payload_bytes(payload: object) -> bytes:
    """A payload that is not ``bytes`` as ``bytes`` (all of a buffer's bytes), or ``TypeError``."""
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    raise TypeError(f"a payload must be bytes, got {type(payload).__name__}")


_FUNCTIONS: Final = (FunctionType, MethodType)
"""Callables whose ``__call__`` cannot be async when they are not (a def, a bound method)."""


def _check_callback(what: str, callback: object) -> None:
    """Refuse what the reader task cannot call: a non-callable, or an ``async def``.

    Called synchronously, an ``async def`` returns a coroutine nobody awaits:
    what it was given (a message, an ack, an event) would be dropped unseen.
    """
    if type(callback) in _FUNCTIONS:  # the common case (an on_ack per publish): one look
        is_async = inspect.iscoroutinefunction(callback)
    elif not callable(callback):
        raise TypeError(f"{what} must be a plain function, got {callback!r}")
    else:
        is_async = inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
            getattr(callback, "__call__", None)  # noqa: B004 - an object whose __call__ is async
        )
    if is_async:
        raise TypeError(
            f"{what} must be a plain function: the client's reader task calls it and "
            f"cannot await it, got the async function {callback!r} (start a task from a "
            "plain function, or read the subscription with 'async for')"
        )


def _tell_each(
    handlers: Iterable[ReplyHandler | None], error: Callable[[], NatsError]
) -> BaseException | None:
    """Call each reply handler with ``error()``, every one even if one raises; ``None`` is skipped.

    Returns the first error a handler raised (a user's ``on_ack``...), which
    the caller raises once its own work is done: it closes the client.
    """
    failed: BaseException | None = None
    for handler in handlers:
        if handler is not None:
            try:
                handler(error())
            except BaseException as raised:
                if failed is None:
                    failed = raised
    return failed


@asynccontextmanager
async def connect(
    servers: str | Sequence[str] = DEFAULT_URL,
    *,
    name: str | None = None,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    tls: ssl.SSLContext | None = None,
    tls_hostname: str | None = None,
    tls_handshake_first: bool = False,
    no_echo: bool = False,
    inbox_prefix: str = "_INBOX",
    ping_interval: float = 120.0,
    max_outstanding_pings: int = 2,
    reply_timeout: float = 60.0,
    allow_reconnect: bool = True,
    max_reconnect_attempts: float = 60,
    reconnect_wait: float = 2.0,
    reconnect_max_wait: float = 30.0,
    reconnect_jitter: float = 0.1,
    reconnect_buffer_size: int = 8 * 1024 * 1024,
    write_buffer_size: int = 8 * 1024 * 1024,
    connect_timeout: float = 2.0,
    randomize: bool = False,
    pending_msgs_limit: int = 65536,
    pending_bytes_limit: int = 64 * 1024 * 1024,
    on_event: Callable[[ClientEvent], None] | None = None,
) -> AsyncIterator[Client]:
    """Connect to NATS and keep the connection up while the ``async with`` block runs.

    ``async with trouper.nats.connect("nats://127.0.0.1:4222") as nc:``. The
    first connection is made before the block starts; leaving the block closes
    the client (``close()``: what is buffered is written first; if it raises
    while the block leaves with an error of its own, both leave as one group).
    Background work (reading, writing, pinging, reconnecting) runs in a
    nursery of the client's own.

    Args:
        servers: one URL or several (a list, or one string with commas):
            ``nats://[user:password@]host[:port]``, ``nats://token@host``, or
            ``tls://host`` for TLS with the system's trust store.
        name: shown by the server's monitoring.
        user, password, token: credentials (a URL's own win for that server).
        tls: an ``ssl.SSLContext`` to use TLS with (see ``tls_handshake_first``).
        tls_hostname: the name to check the server's certificate against
            (default: the URL's host).
        tls_handshake_first: do the TLS handshake before the server's INFO
            (the server's ``handshake_first`` option); otherwise upgrade after INFO.
        no_echo: do not receive our own publishes on our own subscriptions.
        inbox_prefix: the prefix of reply subjects (not one the server reserves:
            ``_R_``, ``_GR_``, ``$JS.ACK`` or under them).
        ping_interval, max_outstanding_pings: PING every ``ping_interval``
            seconds (> 0, ``math.inf``: never); that many unanswered PINGs
            mean the connection is stale.
        reply_timeout: seconds (> 0, ``math.inf``: for ever) a request that no
            task waits on (``JetStream.publish_soon``, ``JsMsg.ack_nowait`` with
            ``on_confirmed``) waits for its reply once written (up to a quarter
            more); then its callback gets ``ReplyTimeout``. ``request()`` waits
            on its caller's deadline alone.
        allow_reconnect: reconnect after a failure (otherwise close).
        max_reconnect_attempts: failed attempts in a row (a count >= 0) after which
            a server is given up (``math.inf``: never); the client closes when none is left.
        reconnect_wait, reconnect_max_wait, reconnect_jitter: the wait before a
            server is tried again doubles from ``reconnect_wait`` up to
            ``reconnect_max_wait``, plus up to ``reconnect_jitter`` at random.
        reconnect_buffer_size: bytes of publishes kept while disconnected.
        write_buffer_size: bytes buffered before ``publish`` waits (backpressure).
        connect_timeout: seconds (> 0) allowed for one connection and its handshake.
        randomize: try the servers in random order (spreads clients over a cluster).
        pending_msgs_limit, pending_bytes_limit: default buffer bounds of subscriptions.
        on_event: a plain function called with each ``ClientEvent``; it must not
            block, and if it raises, the client closes and the error leaves the
            ``async with`` (as a subscription callback's does).

    Raises:
        AuthorizationError: a server refused the credentials.
        ConnectError: no server could be reached.
        ValueError: a bad URL or option (an ``inbox_prefix`` the server reserves).
        TypeError: ``on_event`` is not a plain function (an ``async def``, say).
    """
    if isinstance(servers, str):
        servers = [url for url in servers.split(",") if url.strip()]
    if not servers:
        raise ValueError("connect() needs at least one server URL")
    for label, value in (
        ("reconnect_wait", reconnect_wait),
        ("reconnect_max_wait", reconnect_max_wait),
        ("reconnect_jitter", reconnect_jitter),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"{label} must be seconds >= 0, got {value!r}")
    # 0 would not do: PINGs back to back (stale at once), a connection with no time to open.
    for label, value in (
        ("ping_interval", ping_interval),
        ("connect_timeout", connect_timeout),
        ("reply_timeout", reply_timeout),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{label} must be seconds > 0, got {value!r}")
    if (
        isinstance(max_reconnect_attempts, bool)
        or not isinstance(max_reconnect_attempts, int | float)
        or not max_reconnect_attempts >= 0
    ):
        # (compared with a server's failures only once a connection drops)
        raise ValueError(
            f"max_reconnect_attempts must be a count >= 0 or inf, got {max_reconnect_attempts!r}"
        )
    check_positive_int("max_outstanding_pings", max_outstanding_pings)
    check_positive_int("pending_msgs_limit", pending_msgs_limit)
    check_positive_int("pending_bytes_limit", pending_bytes_limit)
    for label, size in (
        ("reconnect_buffer_size", reconnect_buffer_size),
        ("write_buffer_size", write_buffer_size),
    ):
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"{label} must be an int >= 0, got {size!r}")
    check_subject(inbox_prefix, "inbox prefix", wildcards=False)
    if any(f"{inbox_prefix}.".startswith(reserved) for reserved in _RESERVED_REPLIES):
        # Every request would fail: the server refuses (and drops) a publish whose
        # reply subject starts with one of these (isReservedReply, its client.go).
        raise ValueError(
            "inbox_prefix must not begin with a reply prefix the server reserves "
            f"(_R_., _GR_., $JS.ACK.): it refuses such replies, got {inbox_prefix!r}"
        )
    if on_event is not None:
        _check_callback("on_event", on_event)
    options = _Options(
        servers=tuple(servers),
        name=name,
        user=user,
        password=password,
        token=token,
        tls=tls,
        tls_hostname=tls_hostname,
        tls_handshake_first=tls_handshake_first,
        no_echo=no_echo,
        inbox_prefix=inbox_prefix,
        ping_interval=ping_interval,
        max_outstanding_pings=max_outstanding_pings,
        reply_timeout=reply_timeout,
        allow_reconnect=allow_reconnect,
        max_reconnect_attempts=max_reconnect_attempts,
        reconnect_wait=reconnect_wait,
        reconnect_max_wait=reconnect_max_wait,
        reconnect_jitter=reconnect_jitter,
        reconnect_buffer_size=reconnect_buffer_size,
        write_buffer_size=write_buffer_size,
        connect_timeout=connect_timeout,
        randomize=randomize,
        pending_msgs_limit=pending_msgs_limit,
        pending_bytes_limit=pending_bytes_limit,
        on_event=on_event,
    )
    client = Client(options)
    stream, parser = await client._connect_first()
    client._trio_token = trio.lowlevel.current_trio_token()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._run, stream, parser)
            try:
                yield client
            except BaseException as error:
                try:
                    await client.close()
                except Exception as close_error:
                    # Raised alone, it would hide the block's own error: both leave.
                    raise BaseExceptionGroup(
                        "the block raised, and closing the client failed", [error, close_error]
                    ) from None
                raise
            else:
                await client.close()
            finally:
                client._abort(client._reason)
    finally:
        client._stop_flushing()
