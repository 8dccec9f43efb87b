"""``JetStreamStore``: durable mailboxes on NATS JetStream, shared by every process that opens it.

Theory of operation
-------------------
Layout, under a prefix (``trouper`` by default), for each durable mailbox
``name`` (``<t>`` is the name escaped into a NATS token, see ``_token``):

- a work-queue stream ``<prefix>_mailbox_<t>`` on the subject
  ``<prefix>.mailbox.<t>`` and those under it, file storage,
  ``max_msgs_per_subject`` = the mailbox's ``capacity`` with ``discard: new``
  per subject (a full mailbox refuses a tell), and ``duplicate_window`` = its
  ``dedup_window``; a stream per mailbox, so each mailbox has its own
  window, capacity and deduplication ids. Tells are published on the
  mailbox's subject; what must be stored beyond capacity (a handler's sends,
  whose message's ack is what makes room; redrives; system puts) on a
  subject of its own under it (``<subject>.<unique>``), which one message
  never fills, as SQLite never refuses those for room;
- one durable pull consumer ``trouper`` on it, shared by every process that
  hosts the mailbox (a work queue across processes), explicit acks,
  ``ack_wait`` from the store;
- dead letters in one limits stream ``<prefix>_dead`` (subject
  ``<prefix>.dead.<t>``), kept for ever;
- actor states in one stream ``<prefix>_state`` (subject
  ``<prefix>.state.<t>``) that keeps one message per subject, read back by
  a last-by-subject get.

Writing: a ``WriteBatch`` is sealed and published when the store takes it (at
the end of the scheduler pass that staged it, or at once when someone waits
for it): each append is a publish with acknowledgement whose ``Nats-Msg-Id``
is its dedup key (``u:<msg_id>`` for a sender's id, ``d:<key>`` for a
handler's derived key, ``g:<store>.<n>`` otherwise, so that publishing it
again after a lost connection cannot store it twice). Each state is a
publish too, and its batch's commit point: it holds what the runs of its
batch and of every older one of its actor did, so it is sent only once the
other writes of its batch are stored and the older states of its subject
are (one state per subject in flight; the states ready behind it go as the
newest of them, the others ending as it ends). A batch refused refuses the
newer states of its subjects waiting behind its own, unsent
(``EarlierStateRefused``): no stored state holds the effect of a run that is
delivered again. Many publishes are in flight at once, none has a task: each
ack is counted by a callback, and when a batch's last one came the batch is
durable (its waiters wake, its ``after_commit`` callbacks run: that is where
a handled message is acked, after its outputs). A publish whose answer was
lost with a connection is sent again, and one whose answer did not come
within the client's ``reply_timeout`` is sent again after a pause (either may
have been stored: the key keeps it once), and one the client's outage buffer
has no room for (a long outage) is sent again after a pause, until the client
is back or gives up; one that found no stream (a mailbox nobody opened yet) makes the stream
and is sent again; one refused because the mailbox is full is sent again
after a pause (so ``tell`` waits while it is full), or sooner when this
process makes room: while such publishes wait, the leases of that mailbox
settle with a request (``on_confirmed``), and the server's answer (the
message is gone: a plain ack may still be queued in the server when the next
publish arrives) ends the pause. Any other refusal fails its batch with
``StoreRefused`` (the store goes on); a dead letter or a state refused for
room is one of them (their streams fill only by an operator's limits, which
no ack undoes). A tell too large for the server is refused before it is
staged (``check_tell``), so that it does not sink the other tells of its
batch.

Reading: ``open_feed`` makes the stream and consumer and returns a long
poll (``trouper.nats.PullFeed``) whose messages become ``Received`` values.
Each delivery's receipt is a lease, held until it is settled: a keeper task
sends ``+WPI`` every ``ack_wait / 4`` for each lease held, so a message is
redelivered (to another host, or to this one) only once this process stops
holding it: settled, or the process died, froze or lost the server for
about ``ack_wait``. One handler at a time per message. A feed holds at most
the mailbox's ``prefetch`` leases and pulls: a handled message counts until
its ack is sent, so the next one is pulled after it (``_LeasedFeed``).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import math
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Final

import attrs
import outcome
import trio
from trio.lowlevel import Task, current_task, reschedule, wait_task_rescheduled

from trouper._text import is_utf8
from trouper.codec import Codec
from trouper.durable._served import EarlierStateRefused, ServedAppend, fits_server_duration
from trouper.durable._store import (
    Append,
    DeadLetterRecord,
    Feed,
    MailboxListener,
    MailboxStatistics,
    Received,
    StoreStatistics,
    WriteBatch,
    checked_dead_letter_choice,
    checked_redrive_target,
    copy_failure,
    decoded,
    run_failure_callbacks,
)
from trouper.errors import StoreError, StoreFailed, StoreRefused
from trouper.nats import (
    AckPolicy,
    Client,
    ConnectionClosed,
    ConnectionLost,
    ConsumerConfig,
    DiscardPolicy,
    Headers,
    JetStream,
    JetStreamError,
    JsMsg,
    MaxPayloadExceeded,
    Msg,
    NatsError,
    NoResponders,
    OutboundBufferFull,
    PubAck,
    PullFeed,
    ReplyTimeout,
    RetentionPolicy,
    Status,
    StorageType,
    StreamConfig,
    StreamInfo,
    connect,
)
from trouper.nats.protocol import encode_headers

if TYPE_CHECKING:
    from trouper.durable._queue import Durable, MessageCodec

__all__ = ["JetStreamStore"]

log = logging.getLogger("trouper")

MIN_SERVER: Final = (2, 10)
"""The oldest nats-server accepted: the first with ``sync_interval: always``."""

CONSUMER: Final = "trouper"
"""The durable pull consumer every host of a mailbox shares."""

LONGEST_DELAY: Final = 100 * 365.25 * 24 * 3600.0
"""The longest delay a redelivery waits (100 years): a ``Retry`` or backoff longer waits this.

The server counts delays in int64 nanoseconds from now (about 292 years, and
its due times wrap past the year 2262): a longer delay would be taken as none.
"""

_FULL_PAUSE: Final = 0.05
"""Seconds before a publish refused by a full mailbox is tried again (doubling to 1 s)."""

_PASSING_PAUSE: Final = 0.2
"""Seconds before a request that failed for now (``_passing``) is made again."""

_SHORTEST_WINDOW: Final = 0.1
"""The shortest ``duplicate_window`` the server takes (seconds): a shorter window is this."""

_MOST_MESSAGES: Final = 2**63 - 1
"""The largest ``max_msgs_per_subject`` the server takes (int64): a larger ``capacity`` is this."""

_MAX_STREAM_NAME: Final = 255
"""The longest stream name the server takes, in bytes."""

_MAX_SUBJECT: Final = 2048
"""The longest subject a state is published on, in bytes: well inside the server's 4 KiB line."""

_MAX_PREFIX: Final = _MAX_STREAM_NAME - len("_mailbox_") - 1
"""The longest prefix: the server keeps stream names to 255 bytes, a mailbox's adds 10 or more."""

_MIN_ACK_WAIT: Final = 0.1
"""The shortest ``ack_wait``: its +WPI (every quarter) and an ack must reach the server in it."""

_MIN_POLL_EXPIRES: Final = 1
"""The shortest ``poll_expires`` (the NATS clients' floor): a pull expired when served gets none."""

_DEPTH_PERIOD: Final = 1.0
"""Seconds between two reads of a hosted mailbox's stored count, while its depth is being read."""


def _token(name: str) -> str:
    """``name`` as a NATS token and stream-name part: ``[A-Za-z0-9-]`` kept, other bytes ``_hh``."""
    out: list[str] = []
    for char in name:
        if char.isascii() and (char.isalnum() or char == "-"):
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode())
    return "".join(out)


def _untoken(token: str) -> str:
    """The name ``_token`` made ``token`` from."""
    data = bytearray()
    index = 0
    while index < len(token):
        if token[index] == "_":
            data.append(int(token[index + 1 : index + 3], 16))
            index += 3
        else:
            data += token[index].encode()
            index += 1
    return data.decode()


def _name_of(token: str) -> str | None:
    """The name ``_token`` made ``token`` from, or None if it is no such token (not trouper's).

    Stream names and subjects under the prefix may be an operator's (a copy
    of a mailbox's stream, say): ``_untoken`` raises on them.
    """
    try:
        name = _untoken(token)
    except ValueError:  # an escape that is not two hex digits, or not UTF-8
        return None
    return name if _token(name) == token else None


def _parse_version(text: object) -> tuple[int, ...]:
    parts: list[int] = []
    for part in str(text).split("-")[0].split("."):
        if not (part.isascii() and part.isdigit()):
            break
        parts.append(int(part))
    return tuple(parts)


class _DeadAppend(Append):
    """A dead letter to publish on the dead-letter stream: the message's bytes, facts in headers.

    Its body is the message's payload as stored (not wrapped, so whatever
    the mailbox stored fits); its headers are the type, the msg_id, and the
    facts (``Trouper-Dead``, JSON: reason, traceback, attempts, times).
    """

    __slots__ = ("headers", "key", "subject")

    def __init__(self, subject: str, payload: bytes, headers: Headers, key: str) -> None:
        super().__init__("", "", payload, None, None, False, None)
        # Where it is published.
        self.subject = subject
        # The type, the msg_id and the facts.
        self.headers = headers
        # Its dedup key (the mailbox and the message's sequence): one dead letter per message.
        self.key = key


class _Publish:
    """One publish of a commit, kept until its ack came (to be sent again if needed)."""

    __slots__ = (
        "commit",
        "full",
        "headers",
        "key",
        "mailbox",
        "missing",
        "payload",
        "record",
        "store",
        "subject",
        "waits",
    )

    def __init__(
        self,
        store: JetStreamStore,
        commit: _Commit,
        subject: str,
        payload: bytes,
        headers: Headers | None,
        key: str | None,
        record: Append | None,
        mailbox: str | None,
    ) -> None:
        # The store it belongs to (told its answer).
        self.store = store
        # The commit it belongs to.
        self.commit = commit
        # What is published, and its dedup key (sent as Nats-Msg-Id), if it has one.
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.key = key
        # The append it carries (told its sequence and whether it was kept), or None.
        self.record = record
        # The mailbox whose stream takes it (made on demand), or None.
        self.mailbox = mailbox
        # Seconds to wait before the next try when the mailbox is full (doubles).
        self.waits = _FULL_PAUSE
        # Whether its last try found no stream (it is made before the next one).
        self.missing = False
        # Whether its last try found the mailbox full (counted in the store's _full).
        self.full = False

    def answered(self, result: PubAck | NatsError) -> None:
        """Take the server's answer (called by the client's reader task)."""
        self.store._on_ack(self, result)


class _StatePublish(_Publish):
    """The publish of an actor's state: the last one stored on its subject wins.

    Its own class, so that the tells' publishes (the many) carry none of
    what orders a subject's states. A state is the commit point of its
    batch: it is sent once every other write of its batch is stored and
    every older state of its subject is (see ``JetStreamStore._advance``).
    """

    __slots__ = ("followers",)

    def __init__(self, store: JetStreamStore, commit: _Commit, subject: str, data: bytes) -> None:
        super().__init__(store, commit, subject, data, None, None, None, None)
        # Older states of its subject, ready when it was sent, that it holds and stands for
        # (None: none): each ends as it ends (stored, or failed), see _state_ended.
        self.followers: list[_StatePublish] | None = None


class _Commit:
    """A batch being published: done when every one of its publishes is acknowledged."""

    __slots__ = ("batch", "doomed", "error", "parked", "ready", "remaining", "states")

    def __init__(self, batch: WriteBatch) -> None:
        # The batch (sealed).
        self.batch = batch
        # Publishes not yet acknowledged (>= 0); the commit is done at 0.
        self.remaining = 0
        # Of those, the ones waiting in the retrier (for room, a stream, the server): while
        # it is > 0, a cancelled waiter may leave (its message may still be stored later).
        self.parked = 0
        # Why it failed, if it did (its waiters get it, its callbacks never run): a
        # StoreRefused (one write refused), or the store's failure.
        self.error: StoreFailed | None = None
        # Its states not stored yet (counted in ``remaining``), or None: none, or it failed.
        self.states: list[_StatePublish] | None = None
        # Whether every publish of it but its states is answered: its states may be sent.
        self.ready = False
        # Why it was refused before anything of it was sent, and the publish refused, while
        # an older state of its actor was on its way: it fails once that one ended.
        self.doomed: tuple[BaseException, _Publish | None] | None = None


class _Depth:
    """What this process knows of a hosted mailbox's stored messages: its depth.

    The stream's count as the server last reported it, plus what this
    process stored in the mailbox and settled there since that read was sent
    (``count``). Read by ``len()`` often, maybe from another thread: nothing
    here waits or sends; the store's ``_read_depths`` reads the count again.
    """

    __slots__ = ("changes", "mark", "read", "wanted")

    def __init__(self) -> None:
        # The stream's message count at the last read, or None before the first.
        self.read: int | None = None
        # Messages this process stored in the mailbox (+1, once their batch is acked)
        # less those it settled there (-1, an ack or term sent), since it hosted it.
        self.changes = 0
        # ``changes`` when the last read was sent: those after it are not in ``read``.
        self.mark = 0
        # Whether the depth was asked for since the last read (the next round reads it).
        self.wanted = False

    def count(self) -> int | None:
        """The mailbox's stored, unsettled messages as far as this process knows (None: unread).

        Marks the depth ``wanted``: asking is what keeps ``_read_depths`` reading it.
        """
        self.wanted = True
        read = self.read
        if read is None:
            return None
        return max(0, read + self.changes - self.mark)


class _Lease:
    """A delivery this process holds: settled through it, kept from redelivery until then.

    The store's keeper sends ``+WPI`` for every lease held, every
    ``ack_wait / 4``, so the server does not hand the message to another host
    (or again to this one) while it waits in this process, its handler runs, or
    its outputs are stored before its ack. Settling it lets its feed pull a
    message it held back for the lease (see ``_LeasedFeed``). An ack or term
    while publishes of this process wait for room in the mailbox asks the
    server to confirm it, and the confirmation wakes them.
    """

    __slots__ = ("feed", "mailbox", "msg", "seq", "store")

    def __init__(
        self, msg: JsMsg, feed: _LeasedFeed, seq: int, store: JetStreamStore, mailbox: str
    ) -> None:
        # The delivery, settled through its ack methods.
        self.msg = msg
        # The feed it came by: in its ``held`` under ``seq`` until settled.
        self.feed = feed
        self.seq = seq
        # The store and mailbox it came from (told when settling it made room).
        self.store = store
        self.mailbox = mailbox

    def _release(self) -> None:
        feed = self.feed
        if feed.held.get(self.seq) is self:
            del feed.held[self.seq]
            if feed.deferred:
                feed.wake()

    def _on_room(self) -> Callable[[NatsError | None], object] | None:
        """The callback that wakes publishes waiting for room here, if some wait; else None."""
        if self.mailbox not in self.store._full:
            return None
        return functools.partial(self.store._room_made, self.mailbox)

    def ack_nowait(self) -> None:
        """Acknowledge it (see ``JsMsg.ack_nowait``); it is no longer kept alive."""
        self._release()
        self.msg.ack_nowait(on_confirmed=self._on_room())
        self.feed.depth.changes -= 1

    def nak_nowait(self, *, delay: float | None = None) -> None:
        """Refuse it for ``delay`` seconds, at most ``LONGEST_DELAY`` (see ``JsMsg.nak_nowait``)."""
        self._release()
        if delay is not None and delay > LONGEST_DELAY:
            # The server reads a longer one as no delay at all (beyond int64
            # nanoseconds), or wraps its due time past the year 2262: either
            # way redelivered at once, which a Retry(after=1e12) must not be.
            delay = LONGEST_DELAY
        self.msg.nak_nowait(delay=delay)

    def term_nowait(self, *, reason: str | None = None) -> None:
        """Give it up for good (see ``JsMsg.term_nowait``)."""
        self._release()
        self.msg.term_nowait(reason=reason, on_confirmed=self._on_room())
        self.feed.depth.changes -= 1


class _LeasedFeed:
    """A mailbox's long poll, with the leases of the deliveries it handed over.

    It holds at most ``window`` (the mailbox's prefetch) leases and pulls
    together: a message whose handler ended is still held until its outputs
    are stored and its ack is sent, so what its queue asks for then is pulled
    only once enough leases are settled. Else a process that dies (a poison
    message that kills it, say) would take with it a handled neighbour whose
    ack had not gone out, and have it charged one delivery per such death.
    """

    __slots__ = ("_closed", "_feed", "_feeds", "deferred", "depth", "held", "window")

    def __init__(
        self,
        feed: PullFeed,
        feeds: set[_LeasedFeed],
        window: int,
        closed: Callable[[ConnectionClosed], None],
        depth: _Depth,
    ) -> None:
        # The long poll.
        self._feed = feed
        # Called when the client closed under the feed (the store fails).
        self._closed = closed
        # The store's open feeds (the keeper's round); this one is there until closed.
        self._feeds = feeds
        # The most leases held plus messages pulled and not come yet (>= 1).
        self.window = window
        # The deliveries handed over and not settled, by stream sequence (the latest of each).
        self.held: dict[int, _Lease] = {}
        # Messages asked for and not pulled yet, for want of room in the window (>= 0).
        self.deferred = 0
        # The mailbox's depth, told of each settlement sent.
        self.depth = depth
        feeds.add(self)

    @property
    def requested(self) -> int:
        """Messages asked for that have not come yet (pulled, or held back for the window)."""
        return self._feed.requested + self.deferred

    def pull(self, batch: int) -> None:
        """Ask for ``batch`` more messages: pulled now as far as the window has room, else later."""
        self.deferred += batch
        self._pull_deferred()

    def _pull_deferred(self) -> None:
        room = self.window - len(self.held) - self._feed.requested
        if room > 0 and self.deferred:
            batch = min(room, self.deferred)
            try:
                self._feed.pull(batch)
            except OutboundBufferFull:
                # Reconnecting, its outage buffer full: pulled once the client is back
                # (the feed's wait returns then). Not the feed's end, which would drop
                # the leases held, and with them the +WPI of handlers still running.
                return
            self.deferred -= batch

    def wake(self) -> None:
        """Wake a task in ``wait()``."""
        self._feed.wake()

    async def wait(self) -> None:
        """Wait until something changed (see ``PullFeed.wait``); pull what the window has room for.

        Raises:
            ConnectionClosed: the feed was closed, or the client (then the store fails).
            JetStreamError: as ``PullFeed.pull`` (a pull the outage buffer has no room
                for waits for the reconnect instead).
        """
        try:
            await self._feed.wait()
            self._pull_deferred()
        except ConnectionClosed as error:
            self._closed(error)
            raise

    def close(self) -> None:
        """Stop polling and stop keeping its leases (the server redelivers them after ack_wait)."""
        self._feeds.discard(self)
        self.held.clear()
        self.deferred = 0
        self._feed.close()


class JetStreamStore:
    """A durable store on NATS JetStream: mailboxes live in the server, shared across processes.

    ``open_runtime(store=JetStreamStore("nats://127.0.0.1:4222"))``: durable
    actors work on it as on ``SqliteStore``, and every runtime (in any
    process) that opens a store on the same server and prefix sees the same
    mailboxes: it can tell a durable actor it does not host
    (``trouper.durable.durable_ref``), and it can host the same mailbox too,
    the hosts then sharing its messages (at least once; see docs/durable.md,
    "On JetStream", for what is and is not atomic).

    Give a server URL (or several, comma-separated or as a list), and the
    store connects when opened and closes the connection when closed; or
    give a connected ``client`` (``trouper.nats.connect``), which it uses and
    leaves open. Opening refuses a server without JetStream or older than
    2.10 (``StoreError``). Durability is the server's: configure it with
    ``jetstream { sync_interval: always }`` so that an acknowledged publish
    is on disk (see docs/durable.md).

    Args:
        servers: NATS URL(s), unless ``client`` is given.
        client: a connected client to use instead.
        prefix: the names of its streams and subjects start with it; stores
            with different prefixes on one server do not see each other.
            Letters, digits and '-', at most 245 of them (``ValueError``).
        ack_wait: seconds without an ack after which a delivered message is
            delivered again (a handler that runs longer is delivered twice);
            at least 0.1 and at most 9223372036 (int64 nanoseconds),
            ``ValueError`` otherwise.
        poll_expires, heartbeat: each long poll lasts ``poll_expires`` seconds
            (at least 1, at most 9223372036) on the server, which sends a
            heartbeat every ``heartbeat`` seconds while it waits (a lost poll
            is noticed after two missed ones).
        replicas: copies of each stream in a JetStream cluster: of each stream
            it makes, and of a mailbox's stream when a host opens it (the
            dead-letter and state streams, once made, keep theirs).
        codec: decodes dead letters' messages as they are listed.
        name: the connection's name in the server's monitoring.
    """

    def __init__(
        self,
        servers: str | Sequence[str] | None = None,
        *,
        client: Client | None = None,
        prefix: str = "trouper",
        ack_wait: float = 30.0,
        poll_expires: float = 30.0,
        heartbeat: float = 5.0,
        replicas: int = 1,
        codec: MessageCodec | None = None,
        name: str | None = None,
    ) -> None:
        if (servers is None) == (client is None):
            raise ValueError("give JetStreamStore either server URLs or a connected client")
        if servers is not None and not servers:
            raise ValueError(f"give JetStreamStore at least one server URL, got {servers!r}")
        if servers is not None and not (
            isinstance(servers, str)
            or (
                isinstance(servers, Sequence)  # bytes hold ints, refused below
                and all(isinstance(url, str) for url in servers)
            )
        ):
            raise TypeError(
                f"servers is a NATS URL or a sequence of them (strings), got {servers!r}"
            )
        if not isinstance(prefix, str) or not prefix or _token(prefix) != prefix or "_" in prefix:
            raise ValueError(f"prefix must be letters, digits and '-', got {prefix!r}")
        if len(prefix) > _MAX_PREFIX:
            raise ValueError(
                f"prefix must be at most {_MAX_PREFIX} characters (its streams' names, "
                f"<prefix>_mailbox_<name>, are limited to 255), got {len(prefix)}"
            )
        for label, value in (
            ("ack_wait", ack_wait),
            ("poll_expires", poll_expires),
            ("heartbeat", heartbeat),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{label} must be seconds > 0, got {value!r}")
        for label, value in (("ack_wait", ack_wait), ("poll_expires", poll_expires)):
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{label} must be seconds > 0, got {value!r}")
            if not fits_server_duration(value):
                # The server would refuse the consumer (or the pull), failing the store.
                raise ValueError(
                    f"{label} must be at most 9223372036 s (the server's int64 nanoseconds), "
                    f"got {value!r}"
                )
        if ack_wait < _MIN_ACK_WAIT:
            # Every message would be redelivered while handled, and the keeper would send
            # +WPI in a loop of sleeps shorter than a round trip to the server.
            raise ValueError(
                f"ack_wait must be at least {_MIN_ACK_WAIT} s (a +WPI every ack_wait/4 and an "
                f"ack must reach the server within it), got {ack_wait!r}"
            )
        if poll_expires < _MIN_POLL_EXPIRES:
            # A pull expired when the server serves it is answered with a timeout and
            # delivers nothing: polled again and again, the mailbox would get no message.
            raise ValueError(
                f"poll_expires must be at least {_MIN_POLL_EXPIRES} s (a pull must outlive its "
                f"way to the server, as the NATS clients ask), got {poll_expires!r}"
            )
        if not 0 < heartbeat <= poll_expires / 2:
            raise ValueError(f"heartbeat must be seconds in (0, poll_expires/2], got {heartbeat!r}")
        if isinstance(replicas, bool) or not (isinstance(replicas, int) and replicas >= 1):
            raise ValueError(f"replicas must be an int >= 1, got {replicas!r}")
        # Where to connect (None with a client of the caller's).
        self._servers = servers
        # The connection (the caller's, or ours once open).
        self._client = client
        # How errors name the store.
        self._name = (
            ",".join([servers] if isinstance(servers, str) else servers)
            if servers is not None
            else f"{prefix} on a client"
        )
        self._connection_name = name
        self.prefix = prefix
        """The prefix of its streams and subjects."""
        self.ack_wait = ack_wait
        """Seconds without an ack before a delivered message is delivered again."""
        self._poll_expires = poll_expires
        self._heartbeat = heartbeat
        self._replicas = replicas
        # Decodes dead letters' messages as they are listed.
        self.codec: MessageCodec = Codec() if codec is None else codec
        # "new", "open", "closing", "closed".
        self._phase = "new"
        # Holds our connection and our nursery while open.
        self._stack: AsyncExitStack | None = None
        self._nursery: trio.Nursery | None = None
        # Batches staged and not yet taken, in order.
        self._staged: list[WriteBatch] = []
        # Commits taken and not yet done.
        self._open: dict[_Commit, None] = {}
        # Wakes the committer: something was staged.
        self._wake = trio.Event()
        # Publishes waiting to be tried again (no stream yet, a full mailbox).
        self._retry: trio.MemorySendChannel[_Publish] | None = None
        # Publishes refused as full and not sent again yet, counted by mailbox (> 0):
        # an ack or term sent here for one of these asks the server to confirm it.
        self._full: dict[str, int] = {}
        # Mailboxes in which such a confirmed settlement made room since the retrier
        # last looked; the retrier parks in _room_lot until one of its own is here.
        self._made: set[str] = set()
        self._room_lot = trio.lowlevel.ParkingLot()
        # The live consumer of each mailbox, told about its appends.
        self._listeners: dict[str, MailboxListener] = {}
        # The depth of each mailbox that has a listener (the same keys).
        self._depths: dict[str, _Depth] = {}
        # The publishing side of the client (made once).
        self._js: JetStream | None = None
        # Each mailbox's subject, by name (made once per mailbox).
        self._subjects: dict[str, str] = {}
        # The headers of a message with neither msg_id nor ask token, by type name
        # (made once per type: a Headers keeps its encoded block).
        self._type_headers: dict[str, Headers] = {}
        # Mailbox streams known to exist.
        self._streams: set[str] = set()
        # The max_msg_size of the mailboxes' streams that have one (an operator's), by
        # mailbox: check_tell refuses a tell over it alone (empty: none has one).
        self._msg_limits: dict[str, int] = {}
        # Mailboxes whose stream's max_msg_size is to be read again (_watch_limits reads).
        self._limits_due: trio.MemorySendChannel[str] | None = None
        # The open feeds, whose held deliveries the keeper keeps from redelivery.
        self._feeds: set[_LeasedFeed] = set()
        # Makes the g: keys of this store unique across processes and runs.
        self._key_prefix = "g:" + secrets.token_hex(8) + "."
        self._keys = 0
        # Makes the subjects of messages stored beyond capacity unique (one message
        # per subject, so the per-subject limit that is the capacity never refuses them).
        self._beyond_prefix = secrets.token_hex(8) + "-"
        self._beyonds = 0
        # The states of each state subject taken and not sent yet, oldest batch first
        # (never empty): each waits for its batch's other writes and the older ones.
        self._chains: dict[str, list[_StatePublish]] = {}
        # The state of each state subject sent and not answered for good (one at most:
        # the next is sent once it is stored, see _advance).
        self._flying: dict[str, _StatePublish] = {}
        # Whether _take_staged is publishing what it took (it does not take more meanwhile).
        self._taking = False
        # Tasks waiting for every open commit (flush), each with the commits it waits for.
        self._flushers: list[tuple[Task, set[_Commit]]] = []
        # The result of a task's batch settled while that task sent it, in ``durable``
        # (see ``_answer``): taken there at once, so empty between two calls.
        self._early: dict[Task, outcome.Outcome[None]] = {}
        # Tasks cancelled in ``durable`` while their batch was in flight: each leaves
        # (with its cancellation) when a publish of its batch parks in the retrier.
        self._leaving: dict[Task, tuple[WriteBatch, trio.lowlevel.RaiseCancelT]] = {}
        # The error that failed the store, if one did; every write raises it after.
        self._failure: StoreFailed | None = None
        self._commits = 0
        self._batches = 0
        self._rows = 0
        self._largest_group = 0

    def __repr__(self) -> str:
        return f"<JetStreamStore {self._name!r} {self._phase}>"

    @property
    def redelivers(self) -> bool:
        """True: JetStream delivers, counts deliveries and redelivers by itself."""
        return True

    @property
    def client(self) -> Client:
        """The NATS connection (raises ``RuntimeError`` before the store is opened)."""
        if self._client is None:
            raise RuntimeError(f"{self!r} is not open")
        return self._client

    # --- names ----------------------------------------------------------------

    def stream_name(self, mailbox: str) -> str:
        """The stream that holds ``mailbox``'s messages."""
        return f"{self.prefix}_mailbox_{_token(mailbox)}"

    def _check_mailbox_name(self, mailbox: str) -> None:
        """Refuse ``mailbox`` if its stream's name would pass the server's 255 bytes.

        Asked, the server refuses the stream, and a mailbox that cannot be
        opened fails the whole store (and the runtime with it): a name too
        long is the caller's error, said before the server sees it.

        Raises:
            ValueError: ``mailbox``'s stream name is over 255 bytes.
        """
        name = self.stream_name(mailbox)
        if len(name.encode()) > _MAX_STREAM_NAME:
            raise ValueError(
                f"the durable mailbox name {mailbox!r} is too long for a JetStreamStore with "
                f"the prefix {self.prefix!r}: its stream's name {name[:40]}... would be "
                f"{len(name.encode())} bytes, and the server takes at most {_MAX_STREAM_NAME} "
                "(each character other than ASCII letters, digits and '-' takes 3 bytes per "
                "byte of UTF-8)"
            )

    def _check_subject(self, publish: _Publish) -> None:
        """Refuse ``publish`` if its subject names no stream the server could have or take.

        A mailbox whose stream name is too long cannot exist; a subject past
        the server's control line (``max_control_line``, 4 KiB by default)
        makes it close the connection, and the client would send it again
        after each reconnect, stalling the store for good.

        Raises:
            ValueError: ``publish`` is for a mailbox whose stream name would be
                over 255 bytes, or (a state) its subject is over ``_MAX_SUBJECT``.
        """
        if publish.mailbox is not None:
            self._check_mailbox_name(publish.mailbox)
        elif len(publish.subject) > _MAX_SUBJECT:
            raise ValueError(
                f"its subject {publish.subject[:60]}... is {len(publish.subject)} bytes, over "
                f"the {_MAX_SUBJECT} a JetStreamStore sends (the server closes the connection "
                "over a line longer than its max_control_line, 4 KiB by default): use a "
                "shorter state key"
            )

    def subject(self, mailbox: str) -> str:
        """The subject ``mailbox``'s messages are published on."""
        return f"{self.prefix}.mailbox.{_token(mailbox)}"

    @property
    def _dead_stream(self) -> str:
        return f"{self.prefix}_dead"

    @property
    def _state_stream(self) -> str:
        return f"{self.prefix}_state"

    def _beyond_subject(self, subject: str) -> str:
        """A subject of its own under a mailbox's ``subject``: stored beyond its capacity."""
        self._beyonds += 1
        return f"{subject}.{self._beyond_prefix}{self._beyonds}"

    def _dead_subject(self, mailbox: str | None) -> str:
        return f"{self.prefix}.dead.{'>' if mailbox is None else _token(mailbox)}"

    def _state_subject(self, key: str) -> str:
        return f"{self.prefix}.state.{_token(key)}"

    # --- opening and closing --------------------------------------------------------

    async def __aenter__(self) -> JetStreamStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Connect, check the server and make the dead-letter and state streams.

        Raises:
            StoreError: no server reached, no JetStream, or a server older than 2.10.
        """
        if self._phase != "new":
            raise RuntimeError(f"{self!r} can be opened only once")
        self._phase = "opening"
        stack = AsyncExitStack()
        try:
            if self._client is None:
                assert self._servers is not None
                try:
                    self._client = await stack.enter_async_context(
                        connect(self._servers, name=self._connection_name)
                    )
                except (NatsError, OSError) as error:
                    raise StoreError(self._name, f"cannot connect: {error}") from error
            self._check_server(self._client.server_info)
            self._nursery = await stack.enter_async_context(trio.open_nursery())
            send, receive = trio.open_memory_channel[_Publish](math.inf)
            self._retry = send
            self._nursery.start_soon(self._committer)
            self._nursery.start_soon(self._retrier, receive)
            self._nursery.start_soon(self._keeper)
            try:
                await self._make_if_missing(self._dead_config())
                await self._make_if_missing(self._state_config())
            except (NatsError, JetStreamError) as error:
                raise StoreError(self._name, f"cannot make its streams: {error}") from error
        except BaseException:
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()
            self._phase = "closed"
            await stack.aclose()  # not in a scope of ours: it holds a nursery entered here
            raise
        self._stack = stack
        self._phase = "open"
        # Started once open: a client that closed before is then noticed too.
        self._nursery.start_soon(self._watch_client)
        self._nursery.start_soon(self._watch_limits)
        self._nursery.start_soon(self._read_depths)

    def _check_server(self, info: dict[str, object]) -> None:
        version = _parse_version(info.get("version", ""))
        if version < MIN_SERVER:
            raise StoreError(
                self._name,
                f"nats-server {info.get('version')} is too old: durable mailboxes need 2.10 or "
                "newer, whose JetStream can sync every write to disk (sync_interval: always)",
            )
        if not info.get("jetstream"):
            raise StoreError(
                self._name,
                "the server has no JetStream: start it with -js, or a jetstream { } block "
                "with sync_interval: always (see docs/durable.md)",
            )

    async def aclose(self) -> None:
        """Publish what is staged, wait (5 s at most) for its acks, stop (idempotent).

        Deliveries held and not settled are redelivered by the server after
        ``ack_wait``; a connection the store made is closed, without an error
        for what an outage left unsent (the commits among it fail with "the
        store was closed"; the settlements are made up for by redelivery). A
        connection that closed (or a store that failed) meanwhile ends the
        wait: the store is closed all the same.
        """
        if self._phase != "open":
            return
        self._phase = "closing"
        with trio.CancelScope(shield=True), trio.move_on_after(5.0):
            try:
                if self._failure is None:
                    self._take_staged()
                    while self._open and self._failure is None:
                        await self._wait_open(set(self._open))
                    if self._client is not None:
                        await self._client.flush()
            except (NatsError, StoreFailed) as error:
                # The connection closed or the store failed meanwhile: nothing more
                # can be sent, and the store must still be left (its nursery with it).
                log.debug("durable store %s: closing without a last flush (%r)", self._name, error)
        self._phase = "closed"
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        self._fail_all(StoreFailed(self._name, "the store was closed"), report=False)
        if self._stack is not None:
            # Left outside any scope opened here: the stack holds a nursery
            # entered in open(), which must be exited where it was entered.
            try:
                await self._stack.aclose()
            except* ConnectionLost as unsent:
                # Our connection closed with writes an outage left unsent: the commits
                # among them failed above (their senders were told), the rest are
                # settlements and +WPIs, whose messages the server delivers again
                # after ack_wait, as for any lost ack. Not an error of the close.
                log.debug("durable store %s: closed with writes unsent (%r)", self._name, unsent)
        self._listeners.clear()

    # --- streams ------------------------------------------------------------------

    def _dead_config(self) -> StreamConfig:
        return StreamConfig(
            self._dead_stream,
            subjects=[self._dead_subject(None)],
            description="trouper: dead letters of durable mailboxes",
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=self._replicas,
        )

    def _state_config(self) -> StreamConfig:
        return StreamConfig(
            self._state_stream,
            subjects=[f"{self.prefix}.state.>"],
            description="trouper: durable actor states (the last one per actor)",
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_msgs_per_subject=1,
            num_replicas=self._replicas,
        )

    def _mailbox_config(self, mailbox: str, options: Durable) -> StreamConfig:
        """The stream of ``mailbox`` with ``options``.

        Two subjects: the mailbox's (tells, at most ``capacity`` messages:
        ``max_msgs_per_subject`` with ``discard_new_per_subject``) and the
        ones under it (``<subject>.<unique>``, one message each: what must be
        stored beyond capacity, a handler's sends, redrives, system puts).
        """
        window = options.dedup_window
        if window is None:
            raise ValueError(
                f"the durable mailbox {mailbox!r} asks for dedup_window=None (ids kept for good): "
                "JetStream keeps message ids for a window, give dedup_window in seconds"
            )
        return self._mailbox_stream(
            mailbox,
            description=f"trouper: durable mailbox {mailbox!r}",
            capacity=options.capacity,
            # The server refuses a window under 100 ms (0 would be its default, 2 min),
            # and a stream it refuses fails the whole store.
            window=max(window, _SHORTEST_WINDOW),
            replicas=self._replicas,
        )

    def _mailbox_stream(
        self, mailbox: str, *, description: str, capacity: int, window: float, replicas: int
    ) -> StreamConfig:
        subject = self.subject(mailbox)
        return StreamConfig(
            self.stream_name(mailbox),
            subjects=[subject, subject + ".>"],
            description=description,
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            max_msgs=-1,
            # The server holds it in an int64 and refuses the stream beyond (failing the
            # store): a capacity past that is no limit the server could reach anyway.
            max_msgs_per_subject=min(capacity, _MOST_MESSAGES),
            discard=DiscardPolicy.NEW,
            discard_new_per_subject=True,
            duplicate_window=window,
            num_replicas=replicas,
        )

    async def _make_if_missing(self, config: StreamConfig) -> None:
        """Make the stream of ``config`` if there is none; one that exists is left as it is.

        For the dead-letter and state streams, which every store of the prefix
        shares: their limits and replicas, once made, are the operator's (an
        update with trouper's configuration would undo them at each open). And
        for a mailbox's that a sender found missing: its host's options win.
        """
        try:
            await self.client.jetstream().add_stream(config)
        except JetStreamError as error:
            if error.err_code != 10058:  # exists, with another configuration: kept
                raise

    async def _ensure(self, config: StreamConfig) -> StreamInfo:
        """Make the stream of ``config``, or bring the one that exists to it in trouper's fields.

        The fields a mailbox's options and layout set (``_MAILBOX_FIELDS``) are
        ``config``'s; the others (an operator's ``max_msg_size``, ``max_age``,
        ``max_bytes``...) are kept. A capacity (``max_msgs_per_subject``)
        lower than the stream's is applied only if the mailbox holds no more
        messages than it: the server applies a lowered limit to the messages
        it holds, deleting the oldest beyond it. Else the stream keeps its
        own (said in a warning), until a later open finds the mailbox drained.
        """
        js = self.client.jetstream()
        try:
            return await js.add_stream(config)
        except JetStreamError as error:
            if error.err_code != 10058:  # in use with another configuration
                raise
        old = (await js.stream_info(config.name)).config
        new = _with_fields_of(old, config)
        if 0 < new.max_age < new.duplicate_window:
            # An operator's max_age, kept: the server refuses a window longer than it,
            # and a mailbox whose stream it refuses fails the whole store.
            log.warning(
                "durable store %s: the stream %s keeps message ids for its max_age of %s s, "
                "not the dedup_window of %s s asked: the server takes no window longer",
                self._name,
                config.name,
                new.max_age,
                new.duplicate_window,
            )
            new = attrs.evolve(new, duplicate_window=new.max_age)
        if _per_subject(new.max_msgs_per_subject) < _per_subject(old.max_msgs_per_subject):
            subject = config.subjects[0]  # the tells', where the capacity applies
            held = (await js.subject_counts(config.name, subject)).get(subject, 0)
            if held > new.max_msgs_per_subject:
                log.warning(
                    "durable store %s: the stream %s keeps its capacity of %s messages, not the "
                    "%s asked: it holds %s, and the server would delete the oldest beyond a "
                    "lowered capacity",
                    self._name,
                    config.name,
                    old.max_msgs_per_subject,
                    new.max_msgs_per_subject,
                    held,
                )
                new = attrs.evolve(new, max_msgs_per_subject=old.max_msgs_per_subject)
        return await js.update_stream(new)

    async def _ensure_mailbox(self, mailbox: str, options: Durable | None) -> StreamInfo | None:
        """Make ``mailbox``'s stream, or bring it to ``options`` (a host's: they win).

        With ``options`` None (a sender's publish found no stream), make it
        with the defaults if it still does not exist, else leave it as it is
        (and return None); with ``options``, return the stream's info.
        """
        if options is None:
            await self._make_missing(mailbox, None)
            return None
        info = await self._ensure(self._mailbox_config(mailbox, options))
        self._streams.add(mailbox)
        return info

    async def _make_missing(self, mailbox: str, options: Durable | None) -> None:
        """Make ``mailbox``'s stream with a sender's ``options`` (or the defaults) if it is missing.

        A stream that exists, or that another process makes meanwhile, is
        left as it is: its host's options win over a sender's. One made by an
        earlier trouper (one subject, ``max_msgs`` its capacity) gets the
        subjects under its own, its limits kept.
        """
        from trouper.durable._queue import Durable  # the layer above this module

        js = self.client.jetstream()
        try:
            info = await js.stream_info(self.stream_name(mailbox))
        except JetStreamError as error:
            if error.err_code != 10059:  # stream not found
                raise
            # Made meanwhile (with other options, say), it is left as it is.
            await self._make_if_missing(
                self._mailbox_config(mailbox, Durable() if options is None else options)
            )
        else:
            old = info.config
            if self.subject(mailbox) + ".>" not in old.subjects:
                capacity = old.max_msgs if old.max_msgs > 0 else old.max_msgs_per_subject
                new = self._mailbox_stream(
                    mailbox,
                    description=old.description or f"trouper: durable mailbox {mailbox!r}",
                    capacity=capacity,
                    window=old.duplicate_window,
                    replicas=old.num_replicas,
                )
                await js.update_stream(_with_fields_of(old, new))
        self._streams.add(mailbox)

    async def open_feed(
        self, mailbox: str, options: object, deliver: Callable[[Received], object]
    ) -> Feed:
        """Make ``mailbox``'s stream (its options win) and consumer; return its long poll.

        Raises:
            StoreFailed: the store failed, or the server refused the mailbox's
                stream or consumer (``__cause__`` is its error).
            trio.ClosedResourceError: the store is not open.
            ValueError: ``options.dedup_window`` is None (JetStream keeps ids for a
                window), or ``mailbox``'s stream name would be over the server's 255
                bytes (asked, the server's refusal would fail the store).
        """
        from trouper.durable._queue import Durable  # the layer above this module

        assert isinstance(options, Durable)
        self._writable()
        self._check_mailbox_name(mailbox)
        js = self.client.jetstream()
        depth = self._depths.get(mailbox)
        if depth is None:
            depth = _Depth()  # not attached (used directly): counted, never shown
        while True:
            mark = depth.changes
            try:
                info = await self._ensure_mailbox(mailbox, options)
                assert info is not None
                depth.read, depth.mark = info.state.messages, mark
                self._note_limit(mailbox, info.config.max_msg_size)  # an operator's, kept
                consumer = await js.pull_subscribe(
                    self.stream_name(mailbox),
                    CONSUMER,
                    ConsumerConfig(
                        description=f"trouper: the hosts of {mailbox!r}",
                        ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=self.ack_wait,
                        max_deliver=-1,
                        max_ack_pending=-1,
                    ),
                )
                break
            except ConnectionClosed as error:
                raise StoreFailed(self._name, str(error)) from error
            except NatsError as error:
                if _passing(error):
                    # JetStream is not ready (a server restarting), or the connection
                    # dropped with a request out (made or not, it is made again the
                    # same): try again shortly, as a publish would be.
                    self._writable()
                    await trio.sleep(_PASSING_PAUSE)
                    continue
                # The server refused the stream or the consumer (another consumer
                # took the work queue, a limit, a permission): the mailbox cannot be
                # served, which its runtime learns as the store's failure.
                raise StoreFailed(
                    self._name, f"the durable mailbox {mailbox!r} could not be opened: {error}"
                ) from error

        def on_message(msg: JsMsg) -> None:
            headers = msg.headers
            metadata = msg.metadata
            seq = metadata.stream_seq
            # A redelivery of one held here replaces its lease (the holder settles the latest).
            lease = leased.held[seq] = _Lease(msg, leased, seq, self, mailbox)
            if headers is None:
                type_name = msg_id = ask = None
            else:
                type_name = headers.get("Trouper-Type")
                msg_id = headers.get("Trouper-Msg-Id")
                ask = headers.get("Trouper-Ask")
            deliver(
                Received(
                    seq,
                    type_name or "",
                    msg.data,
                    msg_id,
                    metadata.num_delivered,
                    metadata.timestamp,
                    ask,
                    lease,
                )
            )

        feed = consumer.feed(on_message, expires=self._poll_expires, heartbeat=self._heartbeat)
        leased = _LeasedFeed(feed, self._feeds, options.prefetch, self._client_closed, depth)
        return leased

    async def _watch_client(self) -> None:
        """Fail the store as soon as its client closes for good, hosted mailboxes or not.

        A long poll notices a closed client only where a mailbox is hosted;
        without one, nothing would until the next write (which then looked
        like one refused publish). The watch is a subscription to an inbox
        nobody publishes on: it ends when the client closes (with
        ``ConnectionClosed`` if it gave up reconnecting, plainly if its owner
        closed it), and is unsubscribed when the store closes, so a caller's
        client keeps nothing of it.
        """
        client = self.client
        try:
            watch = await client.subscribe(client.new_inbox())
        except ConnectionClosed as error:
            self._client_closed(error)
            return
        try:
            async for _ in watch:
                pass  # nothing is published there; a stray message changes nothing
        except ConnectionClosed as error:
            self._client_closed(error)
        except NatsError as error:
            # The server refused the subscription (a permission on inboxes): no watch,
            # the long polls and the writes still notice a closed client.
            log.warning("durable store %s: cannot watch its connection (%r)", self._name, error)
        else:
            self._client_closed(ConnectionClosed("the client is closed"))
        finally:
            watch.unsubscribe_nowait()

    async def _watch_limits(self) -> None:
        """Follow the ``max_msg_size`` of the mailboxes' streams, for ``check_tell``.

        An operator may set one while the store is open. The server then
        refuses a message over it at the commit, and with it the batch the
        tells of that pass share: the others' tells failed for its size. The
        server's advisory of a stream's update (or the first such refusal,
        for a connection not allowed to read advisories) makes this read the
        stream's limit again, so that a tell over it is refused alone.
        """
        client = self.client
        send, receive = trio.open_memory_channel[str](math.inf)
        self._limits_due = send
        streams = f"{self.prefix}_mailbox_"

        def updated(msg: Msg) -> None:
            # On the client's reader task: nothing here may raise.
            stream = msg.subject.rpartition(".")[2]
            if stream.startswith(streams):
                mailbox = _name_of(stream[len(streams) :])
                if mailbox is not None:
                    send.send_nowait(mailbox)

        try:
            advisories = await client.subscribe(
                "$JS.EVENT.ADVISORY.STREAM.UPDATED.*", callback=updated
            )
        except NatsError as error:
            log.debug("durable store %s: cannot follow stream updates (%r)", self._name, error)
            advisories = None
        try:
            async for mailbox in receive:
                try:
                    info = await client.jetstream().stream_info(self.stream_name(mailbox))
                except NatsError as error:
                    log.debug(
                        "durable store %s: cannot read %r's limit (%r)", self._name, mailbox, error
                    )
                    continue
                self._note_limit(mailbox, info.config.max_msg_size)
        finally:
            if advisories is not None:
                advisories.unsubscribe_nowait()

    def _note_limit(self, mailbox: str, max_msg_size: int) -> None:
        """Keep ``mailbox``'s stream's ``max_msg_size`` (-1: none) for ``check_tell``."""
        if max_msg_size >= 0:
            self._msg_limits[mailbox] = max_msg_size
        else:
            self._msg_limits.pop(mailbox, None)

    async def _keeper(self) -> None:
        """Send ``+WPI`` for each delivery held here, every ``ack_wait / 4``.

        So a held message is redelivered only once this process stops saying
        it holds it (it died, froze, or lost the server for about
        ``ack_wait``): a handler that runs longer than ``ack_wait`` keeps its
        message, and two hosts never handle one message at once while both
        reach the server. A stall of the event loop up to ``3/4 ack_wait`` is
        absorbed.
        """
        period = self.ack_wait / 4
        while True:
            await trio.sleep(period)
            if self._failure is not None:
                return
            # Waits for room in the write buffer (publish_nowait refused every +WPI after
            # the first once the buffer was over its bound: those messages moved away).
            leases = [lease for feed in self._feeds for lease in feed.held.values()]
            for lease in leases:
                if lease.feed.held.get(lease.seq) is not lease:
                    continue  # settled meanwhile: a +WPI would undo a -NAK's delay
                try:
                    await self.client.publish(lease.msg.reply, b"+WPI")
                except NatsError as error:
                    log.debug("durable store %s: a +WPI could not be sent (%r)", self._name, error)
                    break

    async def _read_depths(self) -> None:
        """Read again, every ``_DEPTH_PERIOD``, the count of each mailbox whose depth was asked for.

        One stream info per such mailbox and period, none for a mailbox nobody
        asked about (see ``depth``); a read that fails keeps the last count.
        """
        while True:
            await trio.sleep(_DEPTH_PERIOD)
            if self._failure is not None:
                return
            for mailbox, known in list(self._depths.items()):
                if not known.wanted:
                    continue
                known.wanted = False
                mark = known.changes
                try:
                    info = await self.client.jetstream().stream_info(self.stream_name(mailbox))
                except NatsError as error:
                    log.debug(
                        "durable store %s: cannot read %r's depth (%r)", self._name, mailbox, error
                    )
                    continue
                known.read, known.mark = info.state.messages, mark

    # --- writing ------------------------------------------------------------------

    def _writable(self) -> None:
        if self._failure is not None:
            raise copy_failure(self._failure)
        if self._phase not in ("open", "closing"):
            raise trio.ClosedResourceError(f"{self!r} is not open")

    def check_tell(
        self, mailbox: str, type_name: str, payload: bytes, msg_id: str | None, asks: bool
    ) -> None:
        """Refuse a tell to ``mailbox`` too large for the server, before it is staged.

        One length comparison for a message far below the server's
        ``max_payload``; near it, its headers are counted as its publish will
        carry them (a key of the store's counted at its longest), with the
        1 KiB its dead letter needs. So is a ``max_msg_size`` an operator set
        on the mailbox's stream, as far as the store has seen it (the server's
        advisory of the update, or a message it refused). Refused here, it is
        refused alone: in the batch it would share with other tells, it would
        sink them all.

        Raises:
            StoreRefused: the message and its headers are over ``max_payload``
                less 1 KiB, or over the stream's ``max_msg_size``, or its
                ``msg_id`` is one a header cannot carry as it is (it holds a
                CR or LF, begins or ends with whitespace, which a header value
                loses, or is no UTF-8); nothing of it was staged. Its
                ``__cause__`` is a ``ValueError`` saying the limit, as a
                refused batch's is.
        """
        client = self._client
        if client is None:
            return  # not open: staging raises, or the commit checks it
        limit = client.max_payload
        size = len(payload)
        stream_limit = self._msg_limits.get(mailbox, -1) if self._msg_limits else -1
        if (
            size + _HEADROOM + _DEAD_RESERVE <= limit
            and (msg_id is None or (len(msg_id) < 4096 and _carried(msg_id)))
            and (stream_limit < 0 or size + _HEADROOM <= stream_limit)
        ):
            return
        if msg_id is not None and not _carried(msg_id):
            # Its headers would be refused at the commit, with the other tells of its
            # batch; or the id would come back changed (and dedup as another's).
            bad = _uncarried(msg_id)
            raise StoreRefused(
                self._name, f"a message for the durable mailbox {mailbox!r}: {bad}"
            ) from bad
        fields = {"Trouper-Type": type_name}
        if msg_id is not None:
            fields["Trouper-Msg-Id"] = msg_id
            key = len(msg_id.encode()) + 2
        else:
            key = len(self._key_prefix) + 20
        if asks:
            fields["Trouper-Ask"] = "x" * 40  # a token: 12 hex digits, '-' and a count
        size += len(encode_headers(Headers(fields))) + key + 15
        if size + _DEAD_RESERVE > limit:
            error = _too_large(size, limit, _DEAD_RESERVE)
        elif size > stream_limit >= 0:
            error = ValueError(
                f"a message of {size} bytes with its headers is over the max_msg_size of "
                f"{stream_limit} bytes of its stream {self.stream_name(mailbox)}"
            )
        else:
            return
        raise StoreRefused(
            self._name, f"a message for the durable mailbox {mailbox!r}: {error}"
        ) from error

    def stage(self, batch: WriteBatch) -> None:
        """Queue ``batch`` to be published at the end of this pass of the scheduler."""
        self._writable()
        self._staged.append(batch)
        self._wake.set()

    async def submit(self, batch: WriteBatch) -> None:
        """Stage ``batch`` and wait until the server acknowledged all of it (see ``Store``)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        await self.stage_and_wait(batch)

    async def stage_and_wait(self, batch: WriteBatch) -> None:
        """Stage ``batch`` and wait until it is durable (see ``Store.stage_and_wait``)."""
        self._writable()
        # Taken at once, without waking the committer (a task switch per call).
        self._staged.append(batch)
        await self.durable(batch)

    async def durable(self, batch: WriteBatch) -> None:
        """Publish ``batch`` (and what was staged before it) now and wait until it is durable.

        A cancelled wait ends once a publish of ``batch`` waits to be sent
        again (its mailbox is full, its stream is being made, the server is
        not ready, the connection dropped), at once if one does already or
        the client is reconnecting: ``trio.Cancelled`` then says nothing of
        whether the batch is stored; it still is, when it can be, as a
        staged batch would be. A wait whose publishes are all in flight
        ends with their answers (one round trip).

        Raises:
            StoreRefused: a publish of it was refused (the store goes on).
            StoreFailed: the store failed or closed.
        """
        if batch.sealed:
            raise RuntimeError("durable() takes a batch that is still open")
        # A failure (or the close) dropped what was staged: no commit would take this batch.
        self._writable()
        if batch.waiters is None:
            batch.waiters = []
        task = current_task()
        batch.waiters.append(task)
        self._take_staged(until=batch)
        if self._early:
            early = self._early.pop(task, None)
            if early is not None:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return early.unwrap()

        def abort(raise_cancel: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            # Cancelled while in flight: wait for the answer (one round trip),
            # and leave then if the publish is parked (a full mailbox...). Leave
            # now if it is parked already, or if the client is reconnecting (the
            # answer would come after the outage, however long that lasts).
            commit = next((c for c in self._open if c.batch is batch), None)
            if (
                commit is not None
                and (commit.parked or self._outage() or self._behind(commit))
                and batch.waiters is not None
            ):
                batch.waiters.remove(task)
                return trio.lowlevel.Abort.SUCCEEDED
            self._leaving[task] = (batch, raise_cancel)
            return trio.lowlevel.Abort.FAILED

        await wait_task_rescheduled(abort)

    def _outage(self) -> bool:
        """Whether the client is reconnecting (what it publishes waits for the next connection)."""
        client = self._client
        return client is not None and client.status is Status.RECONNECTING

    async def flush(self) -> None:
        """Wait until everything staged before this call is stored, and the settlements sent.

        Returns once every publish of the batches staged before the call is
        acknowledged by the server (a refused one is done too: its batch's
        waiters hear of it), and the server has answered a PING sent after
        every ack, nack and term this process sent so far (those that
        commits ran included). That answer says the server has *read* them,
        not applied them: it applies acks from a queue of the consumer's own,
        a moment later, so ``mailbox_statistics()`` (or another host's pull)
        right after may still see a message whose ack was sent. No barrier
        for applied acks is offered (see docs/durable.md, guarantee 6).

        Raises:
            StoreFailed: the store failed, its connection closed for good meanwhile
                included (a flush parked in an outage whose client gives up).
            ConnectionLost: the connection dropped before the server answered: the
                publishes waited for are stored, but settlements sent before may be
                lost with it (their messages come back after ``ack_wait``).
            trio.ClosedResourceError: the store is not open.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._writable()
        self._take_staged()
        if self._open:
            await self._wait_open(set(self._open))
        if self._failure is not None:
            self._writable()
        try:
            await self.client.flush()
        except ConnectionClosed as error:
            # Closed for good (it gave up reconnecting, say): the store's failure, which
            # its watch may not have reported yet.
            self._fail_store(error)
            self._writable()
            raise

    async def _wait_open(self, commits: set[_Commit]) -> None:
        entry = (current_task(), commits)
        self._flushers.append(entry)

        def abort(_: object) -> trio.lowlevel.Abort:
            self._flushers.remove(entry)
            return trio.lowlevel.Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    async def _committer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            self._take_staged()

    def _take_staged(self, until: WriteBatch | None = None) -> None:
        staged = self._staged
        if not staged:
            return
        if until is None or staged[-1] is until:
            taken, self._staged = staged, []
        else:
            index = next((i for i, b in enumerate(staged) if b is until), len(staged) - 1)
            taken, self._staged = staged[: index + 1], staged[index + 1 :]
        self._commits += 1
        self._largest_group = max(self._largest_group, len(taken))
        self._taking = True
        try:
            for batch in taken:
                self._publish_batch(batch)
        finally:
            self._taking = False

    def _publish_batch(self, batch: WriteBatch) -> None:
        batch.sealed = True
        commit = _Commit(batch)
        self._batches += 1
        self._open[commit] = None
        commit.remaining = 1  # held until every publish is sent
        subjects = self._subjects
        # Built first and checked, then sent: a publish the client refuses at once
        # (too large) fails the batch before any of it is sent, so nothing of a
        # refused run is stored; a tell of a separable batch is left out alone.
        publishes: list[_Publish] = []
        # The publish being checked or sent (named by a refusal of it).
        current: _Publish | None = None
        try:
            for record in batch.appends:
                self._rows += 1
                kind = type(record)
                if kind is _DeadAppend:
                    dead = record
                    assert isinstance(dead, _DeadAppend)
                    publishes.append(
                        _Publish(
                            self,
                            commit,
                            dead.subject,
                            dead.payload,
                            dead.headers,
                            dead.key,
                            None,
                            None,
                        )
                    )
                    continue
                msg_id = record.msg_id
                token = None
                beyond = False
                if kind is ServedAppend:
                    served = record
                    assert isinstance(served, ServedAppend)
                    token = served.token
                    beyond = served.beyond
                    if served.key is not None:
                        key = "d:" + served.key
                    elif msg_id is not None:
                        key = "u:" + msg_id
                    else:
                        self._keys += 1
                        key = f"{self._key_prefix}{self._keys}"
                elif msg_id is not None:
                    key = "u:" + msg_id
                else:
                    self._keys += 1
                    key = f"{self._key_prefix}{self._keys}"
                type_name = record.type_name
                if msg_id is None and token is None:
                    headers = self._type_headers.get(type_name)
                    if headers is None:
                        headers = self._type_headers[type_name] = Headers(
                            {"Trouper-Type": type_name}
                        )
                else:
                    fields = {"Trouper-Type": type_name}
                    if msg_id is not None:
                        if not _carried(msg_id):
                            # A handler's send (not checked by a tell): refused, not
                            # delivered with another id.
                            raise _uncarried(msg_id)
                        fields["Trouper-Msg-Id"] = msg_id
                    if token is not None:
                        fields["Trouper-Ask"] = token
                    headers = Headers(fields)
                mailbox = record.mailbox
                subject = subjects.get(mailbox)
                if subject is None:
                    subject = subjects[mailbox] = self.subject(mailbox)
                if beyond:
                    subject = self._beyond_subject(subject)
                publishes.append(
                    _Publish(self, commit, subject, record.payload, headers, key, record, mailbox)
                )
            if batch.states:
                last: dict[str, bytes] = dict(batch.states)
                for state_key, data in last.items():
                    self._rows += 1
                    publishes.append(
                        _StatePublish(self, commit, self._state_subject(state_key), data)
                    )
            limit = self.client.max_payload
            for current in publishes:
                try:
                    _check_size(current, limit)
                    if len(current.subject) > _MAX_STREAM_NAME:
                        self._check_subject(current)
                except ValueError as error:
                    if not self._separable(current):
                        raise
                    self._refuse_alone(current, error)
            if batch.refused is not None:
                refused = {id(record) for record, _ in batch.refused}
                publishes = [p for p in publishes if id(p.record) not in refused]
            for current in publishes:
                if type(current) is _StatePublish:
                    self._hold(current)
                else:
                    self._send(current)
        except (NatsError, ValueError) as error:
            states = [p for p in publishes if type(p) is _StatePublish]
            if commit.states is None and states and self._waits_for_older(states, error):
                # Refused before anything was sent, while an older state of its actor is
                # on its way: refused once that one ended (refusals come in staging order,
                # as the mailbox that sets its actor's state back reads them).
                commit.doomed = (error, current)
                for state in states:
                    self._hold(state)
                self._acked(commit)
                return
            self._unsent(commit, error, current)
            return
        self._acked(commit)

    def _waits_for_older(self, states: list[_StatePublish], error: BaseException) -> bool:
        """Whether a refusal of a batch with ``states`` is to wait for older states to end."""
        if isinstance(error, ConnectionClosed):
            return False
        return any(s.subject in self._flying or s.subject in self._chains for s in states)

    def _hold(self, publish: _StatePublish) -> None:
        """Count ``publish`` in its commit and queue it on its subject, to be sent by _advance.

        A state holds what the runs of its batch and of every older batch of
        its actor did: stored while one of those is refused, it would keep
        the effect of a run that is delivered again (and run again). So it is
        sent only once the other writes of its batch are stored and the older
        states of its subject are; an older one refused refuses it too.
        """
        commit = publish.commit
        commit.remaining += 1
        if commit.states is None:
            commit.states = []
        commit.states.append(publish)
        chain = self._chains.get(publish.subject)
        if chain is None:
            self._chains[publish.subject] = [publish]
        else:
            chain.append(publish)

    def _advance(self, subject: str) -> None:
        """Send the next state of ``subject``, if none is in flight and its batch is ready.

        The ready states at the head of the subject's queue go as one: the
        newest is sent, the older ones follow it (it holds what they did).
        A batch with states of several subjects is sent once each of them is
        at the head of its subject's queue, and is followed by none.
        """
        if subject in self._flying:
            return
        chain = self._chains.get(subject)
        if chain is None:
            return
        count = 0
        for state in chain:
            states = state.commit.states
            if (
                not state.commit.ready
                or states is None
                or len(states) != 1
                or state.commit.doomed is not None
            ):
                break
            count += 1
        if count:
            group = chain[:count]
            del chain[:count]
            if not chain:
                del self._chains[subject]
            newest = group[-1]
            if count > 1:
                newest.followers = group[:-1]
            self._flying[subject] = newest
            self._send_state(newest)
            return
        commit = chain[0].commit
        states = commit.states
        if not commit.ready or states is None:
            return
        for state in states:
            waiting = self._chains.get(state.subject)
            if state.subject in self._flying or waiting is None or waiting[0] is not state:
                return  # an older state of one of its subjects goes first
        if commit.doomed is not None:
            error, refused = commit.doomed
            self._fail_commit(commit, error, refused)
            return
        for state in states:
            waiting = self._chains[state.subject]
            del waiting[0]
            if not waiting:
                del self._chains[state.subject]
            self._flying[state.subject] = state
        for state in list(states):
            self._send_state(state)

    def _send_state(self, publish: _StatePublish) -> None:
        """Send a state taken out of its subject's queue (``_hold`` counted it already)."""
        commit = publish.commit
        if commit.error is not None:
            self._state_ended(publish, commit.error)
            return
        commit.remaining -= 1  # _send counts it again
        try:
            self._send(publish)
        except (NatsError, ValueError) as error:
            self._unsent(commit, error, publish)

    def _behind(self, commit: _Commit) -> bool:
        """Whether a state of ``commit`` waits for an older state of its subject (maybe long)."""
        for state in commit.states or ():
            chain = self._chains.get(state.subject)
            if (
                chain is not None
                and state in chain
                and (state.subject in self._flying or chain[0] is not state)
            ):
                return True
        return False

    def _send(self, publish: _Publish) -> None:
        """Publish ``publish`` (counted in its commit until answered).

        The client reconnecting with its outage buffer full takes nothing
        more: the publish waits in the retrier and is sent again after a
        pause, as one refused for room (the tell waits through the outage).
        """
        commit = publish.commit
        commit.remaining += 1
        js = self._js
        if js is None:
            js = self._js = self.client.jetstream()
        try:
            js.publish_soon(
                publish.subject,
                publish.payload,
                publish.answered,
                headers=publish.headers,
                msg_id=publish.key,
            )
        except OutboundBufferFull:
            self._park(publish)

    def _park(self, publish: _Publish) -> None:
        """Hand ``publish`` (counted in its commit) to the retrier, to be sent again after a pause.

        A waiter of its batch that was cancelled leaves now (see ``durable``).
        """
        commit = publish.commit
        commit.parked += 1
        assert self._retry is not None
        self._retry.send_nowait(publish)
        if self._leaving:
            self._let_leave(commit.batch)

    def _on_ack(self, publish: _Publish, result: PubAck | NatsError) -> None:
        commit = publish.commit
        if type(publish) is _StatePublish and (
            isinstance(result, PubAck) or commit.error is not None
        ):
            # Stored: its commit (and its followers') counts it; else its commit failed.
            self._state_ended(publish, None if isinstance(result, PubAck) else result)
            return
        if commit.error is not None:
            return
        if isinstance(result, PubAck):
            record = publish.record
            if record is not None:
                record.id = result.seq
                record.accepted = not result.duplicate
            self._acked(commit)
            return
        if self._phase == "closed":
            return
        commit.remaining -= 1  # _send counts it again
        try:
            if isinstance(result, ConnectionLost):
                self._send(publish)  # the same dedup key: stored once either way
                if self._leaving:
                    # Sent again after the outage, however long: a cancelled waiter leaves.
                    self._let_leave(commit.batch)
                return
            if isinstance(result, ConnectionClosed):
                self._fail_store(result)
                return
            # Room is waited for in a mailbox only, where an ack makes some: the dead
            # letters' and states' streams fill only by an operator's limits (refused).
            mailbox = publish.mailbox
            if mailbox is not None and _over_max_msg_size(result) and self._limits_due is not None:
                self._limits_due.send_nowait(mailbox)  # refuse the next one at check_tell
            full = mailbox is not None and _full(result)
            # No answer in time (a cluster without a leader, say): it may be stored or not,
            # so it is sent again with its key, after a pause, as if the server were busy.
            unanswered = isinstance(result, ReplyTimeout)
            if isinstance(result, NoResponders) or _busy(result) or full or unanswered:
                publish.missing = isinstance(result, NoResponders)
                if full and mailbox is not None:
                    publish.full = True
                    self._full[mailbox] = self._full.get(mailbox, 0) + 1
                commit.remaining += 1
                self._park(publish)
                return
        except (NatsError, ValueError) as error:
            self._unsent(commit, error, publish)
            return
        if self._separable(publish):
            # A tell of its own, refused for good: the batch's other writes stand.
            self._refuse_alone(publish, result)
            commit.remaining += 1  # taken back above; _acked counts this publish done
            self._acked(commit)
            return
        self._fail_commit(commit, result, publish)

    def _state_ended(self, publish: _Publish, failure: BaseException | None) -> None:
        """``publish``, if a state, will not be sent again: end it and the states it stands for.

        Stored (``failure`` None), it stored its followers too (it holds what
        they did): each of their commits, and its own, counts it; not, its
        followers' commits fail with it (its own fails by its caller, which
        refuses the newer states of its subject). Then the next state of its
        subject may go.
        """
        if type(publish) is not _StatePublish:
            return
        subject = publish.subject
        if self._flying.get(subject) is publish:
            del self._flying[subject]
        followers = publish.followers
        publish.followers = None
        for follower in followers or ():
            if failure is not None:
                self._fail_commit(follower.commit, failure, follower)
            else:
                self._state_stored(follower)
        if failure is None:
            self._state_stored(publish)
        elif publish.commit.error is None:
            return  # its commit fails now: that refuses the newer ones first (_drop_states)
        self._advance(subject)

    def _state_stored(self, publish: _StatePublish) -> None:
        """Count the stored state ``publish`` in its commit (unless that failed meanwhile)."""
        commit = publish.commit
        states = commit.states
        if states is not None and commit.error is None:
            states.remove(publish)
            if not states:
                commit.states = None
            self._acked(commit)

    def _drop_states(self, commit: _Commit) -> None:
        """``commit`` failed: its states waiting are dropped, and the newer ones of their subjects.

        Each newer state of those subjects was made from a run of this commit
        (or of an older one): stored, it would keep the effect of a run that
        is delivered again. It is refused with ``EarlierStateRefused`` (its
        own messages are delivered again, uncharged), or fails with the
        store's failure once the store failed or closed. A state of it in flight
        stays so until answered: nothing newer of its subject is sent first.
        """
        states = commit.states
        if states is None:
            return
        commit.states = None
        for state in states:
            subject = state.subject
            chain = self._chains.get(subject)
            if chain is None:
                continue
            # Sent already (in flight, or ended by its answer), everything waiting is newer.
            index = chain.index(state) if state in chain else 0
            newer = chain[index:]
            del chain[index:]
            if not chain:
                del self._chains[subject]
            for other in newer:
                waiting = other.commit.states
                if other is state or waiting is None or other.commit.error is not None:
                    continue
                # Out of its commit's states first: dropping that commit's other states
                # must not take this one for a state sent already.
                waiting.remove(other)
                if not waiting:
                    other.commit.states = None
                cause = self._failure or EarlierStateRefused.after(commit.error)
                self._fail_commit(other.commit, cause, other)
            self._advance(subject)

    def _separable(self, publish: _Publish) -> bool:
        """Whether ``publish`` may be refused alone: a tell of a separable batch, heard here.

        Its mailbox's listener must be here to hear of it (its message becomes
        a dead letter there); a tell to a mailbox hosted elsewhere fails its
        batch, whose failure callbacks dead-letter it.
        """
        return (
            publish.commit.batch.separable
            and publish.record is not None
            and publish.mailbox in self._listeners
        )

    def _refusal(self, publish: _Publish | None, error: BaseException, how: str) -> StoreRefused:
        """The ``StoreRefused`` naming what ``publish`` wrote, logged as an error while open.

        ``how`` says what became of it ("refused", or "refused alone" for a
        tell its batch commits without).
        """
        what = self._refused_write(publish)
        refusal = StoreRefused(self._name, f"{what}: {error}")
        refusal.__cause__ = error
        if self._phase == "open":
            log.error(
                "durable store %s: a write was %s (the store goes on): %s: %s",
                self._name,
                how,
                what,
                error,
            )
        return refusal

    def _refuse_alone(self, publish: _Publish, error: NatsError | ValueError) -> None:
        """Record ``publish`` (a tell of a separable batch) as refused alone, ``accepted`` False.

        Its batch commits the rest; its mailbox's listener hears of it after
        ``appended`` (see ``_acked``), and an awaited tell raises it.
        """
        record = publish.record
        assert record is not None
        refusal = self._refusal(publish, error, "refused alone")
        batch = publish.commit.batch
        if batch.refused is None:
            batch.refused = []
        batch.refused.append((record, refusal))

    async def _retrier(self, receive: trio.MemoryReceiveChannel[_Publish]) -> None:
        """Send again the publishes that found no stream, a busy server or a full mailbox.

        Or no answer within the client's ``reply_timeout`` (sent again as after a busy one).

        Takes everything waiting at once: makes each missing stream once, waits
        once if some found a full mailbox or a busy server, then sends them all.
        """
        async for first in receive:
            group = [first]
            while True:
                try:
                    group.append(receive.receive_nowait())
                except trio.WouldBlock:
                    break
            pause = 0.0
            # The streams to make, each with the options of a sender's ref (durable_ref's).
            missing: dict[str | None, Durable | None] = {}
            for publish in group:
                if publish.missing:
                    record = publish.record
                    options = record.queue.options if type(record) is ServedAppend else None
                    if missing.get(publish.mailbox) is None:
                        missing[publish.mailbox] = options
            for mailbox, options in missing.items():
                try:
                    if mailbox is not None:
                        self._streams.discard(mailbox)
                        await self._make_missing(mailbox, options)
                    else:
                        await self._make_if_missing(self._dead_config())
                        await self._make_if_missing(self._state_config())
                except ConnectionClosed as error:
                    self._fail_store(error)
                    return
                except NatsError as error:
                    if not _passing(error):
                        # Refused (a limit, a permission...): as in open_feed, though
                        # the writes that needed it fail alone and the store goes on.
                        for publish in group:
                            if publish.mailbox == mailbox:
                                self._fail_commit(publish.commit, error, publish)
                        continue
                    pause = max(pause, _PASSING_PAUSE)
            for publish in group:
                if not publish.missing:
                    pause = max(pause, publish.waits)
                    publish.waits = min(publish.waits * 2, 1.0)
            if pause:
                await self._wait_for_room(pause, {p.mailbox for p in group if not p.missing})
            for publish in group:
                if publish.full:
                    publish.full = False
                    self._not_full(publish.mailbox)
                commit = publish.commit
                failed = commit.error or self._failure
                if failed is not None:
                    # Not sent again: the older states waiting on a state end with it.
                    self._state_ended(publish, failed)
                    continue
                commit.remaining -= 1
                commit.parked -= 1
                try:
                    self._send(publish)
                except (NatsError, ValueError) as error:
                    self._unsent(commit, error, publish)

    async def _wait_for_room(self, pause: float, mailboxes: set[str | None]) -> None:
        """Wait ``pause`` seconds, or less if this process made room in one of ``mailboxes``.

        Room made by another process is not seen: the pause (50 ms doubling to
        1 s per publish) is what notices it.
        """
        with trio.move_on_after(pause):
            while self._made.isdisjoint(mailboxes):
                await self._room_lot.park()
        self._made.difference_update(mailboxes)

    def _room_made(self, mailbox: str, error: NatsError | None) -> None:
        """An ack or term sent for ``mailbox`` while it was full was confirmed (or failed).

        Either way its waiting publishes are tried again now (a failed
        confirmation may still have made room; if not, they wait again).
        """
        if error is not None:
            log.debug("durable store %s: a settlement was not confirmed (%r)", self._name, error)
        self._made.add(mailbox)
        self._room_lot.unpark_all()

    def _not_full(self, mailbox: str | None) -> None:
        """One publish refused as full in ``mailbox`` is being sent again."""
        if mailbox is not None:
            left = self._full[mailbox] - 1
            if left:
                self._full[mailbox] = left
            else:
                del self._full[mailbox]

    def _acked(self, commit: _Commit) -> None:
        commit.remaining -= 1
        if commit.remaining:
            states = commit.states
            if states is not None and not commit.ready and commit.remaining == len(states):
                # Its other writes are stored: its states may go (the commit point).
                commit.ready = True
                for state in list(states):
                    self._advance(state.subject)
            return
        del self._open[commit]
        batch = commit.batch
        listeners = self._listeners
        if listeners:
            by_mailbox: dict[str, list[Append]] = {}
            for record in batch.appends:
                if record.mailbox in listeners:
                    by_mailbox.setdefault(record.mailbox, []).append(record)
            for mailbox, records in by_mailbox.items():
                depth = self._depths.get(mailbox)
                if depth is not None:
                    stored = 0  # counted here: one write of the depth per mailbox and commit
                    for record in records:
                        if record.accepted:
                            stored += 1
                    depth.changes += stored
                listener = listeners.get(mailbox)
                if listener is not None:
                    listener.appended(records)
                    if batch.refused:
                        refusals = [r for r in batch.refused if r[0].mailbox == mailbox]
                        if refusals:
                            listener.refused(refusals)
        for callback in batch.callbacks():
            callback()
        if batch.waiters:
            self._answer(batch.waiters, None)
            if self._leaving:
                self._stay(batch.waiters)
            batch.waiters = None
        self._release_flushers(commit)

    def _answer(self, waiters: list[Task], failure: StoreFailed | None) -> None:
        """Wake the tasks waiting in ``durable`` for a batch: with None, or a copy of ``failure``.

        Unless one is the task running: its batch was settled while it sent it
        (a publish refused by the client), before it parked. Trio reschedules
        only a parked task: the result is kept for ``durable`` to return.
        """
        running = current_task()  # once per batch: its waiters are one per put
        for task in waiters:
            result: outcome.Outcome[None] = (
                outcome.Value(None) if failure is None else outcome.Error(_copy(failure))
            )
            if task is running:
                self._early[task] = result
            else:
                reschedule(task, result)

    def _let_leave(self, batch: WriteBatch) -> None:
        """Reschedule, with their cancellation, the tasks that asked to leave ``batch``'s wait."""
        for task, (leaving, raise_cancel) in list(self._leaving.items()):
            if leaving is batch and batch.waiters is not None:
                del self._leaving[task]
                batch.waiters.remove(task)
                reschedule(task, outcome.capture(raise_cancel))

    def _stay(self, tasks: list[Task]) -> None:
        """Forget the wishes to leave of ``tasks``, rescheduled otherwise."""
        for task in tasks:
            self._leaving.pop(task, None)

    def _release_flushers(self, commit: _Commit) -> None:
        if not self._flushers:
            return
        still: list[tuple[Task, set[_Commit]]] = []
        for task, commits in self._flushers:
            commits.discard(commit)
            if commits:
                still.append((task, commits))
            else:
                reschedule(task, outcome.Value(None))
        self._flushers = still

    def _unsent(
        self, commit: _Commit, error: NatsError | ValueError, publish: _Publish | None
    ) -> None:
        """``publish`` of ``commit`` was not sent: a closed client fails the store, else commit.

        The client refuses a publish at once when it is closed: that is the
        store's failure (its watch may not have run yet), not one refusal.
        """
        if isinstance(error, ConnectionClosed):
            self._fail_store(error)
            if self._failure is not None:
                self._fail_commit(commit, self._failure, publish)
                return
        self._fail_commit(commit, error, publish)

    def _fail_commit(
        self, commit: _Commit, error: BaseException, publish: _Publish | None = None
    ) -> None:
        """Fail ``commit`` with the store's failure, or as refused for ``publish`` (``error``).

        A refusal is raised as ``StoreRefused`` naming what was refused (the
        store goes on), logged as an error while the store is open.
        ``publish``, not sent again, ends the older states waiting on it.
        """
        if commit.states and commit.error is None and self._failure is None:
            if not isinstance(error, StoreFailed) and self._behind(commit):
                # Refused while an older state of its actor is on its way: it fails once
                # that one ended, so that refusals come in staging order (the mailbox
                # that sets its actor's state back reads them so), see _advance.
                if commit.doomed is None:
                    commit.doomed = (error, publish)
                commit.ready = True
                return
            if not self._taking:
                # Its refusal refuses the newer states of its subjects: those staged and
                # not taken yet too, made before it was heard (see _drop_states). Taken
                # now, while this one still holds their subjects, they wait behind it.
                self._take_staged()
        if publish is not None:
            self._state_ended(publish, error)
        if commit.error is not None:
            return
        failure: StoreFailed
        if isinstance(error, StoreFailed):
            # The store failed (logged once, by _fail_store): its waiters get that failure,
            # not a refusal wrapped around it.
            failure = error
        else:
            failure = self._refusal(publish, error, "refused")
        commit.error = failure
        self._open.pop(commit, None)
        batch = commit.batch
        if batch.waiters:
            self._answer(batch.waiters, failure)
            if self._leaving:
                self._stay(batch.waiters)
            batch.waiters = None
        run_failure_callbacks(batch, self._name, lambda: failure)
        for record in batch.appends:
            if type(record) is ServedAppend:
                # Not stored: the room its queue reserved for it is free again.
                record.queue.appended((record,))
        # After its own callbacks: the newer states it refuses fail oldest first.
        self._drop_states(commit)
        self._release_flushers(commit)

    def _refused_write(self, publish: _Publish | None) -> str:
        """What ``publish`` writes, as its refusal names it ("a dead letter of ...")."""
        if publish is None:
            return "a write"
        if publish.mailbox is not None:
            return f"a message for the durable mailbox {publish.mailbox!r}"
        kind, _, token = publish.subject[len(self.prefix) + 1 :].partition(".")
        if kind == "dead":
            return f"a dead letter of the durable mailbox {_untoken(token)!r}"
        return f"the state {_untoken(token)!r}"

    def _client_closed(self, error: ConnectionClosed) -> None:
        """A feed's client closed (it gave up reconnecting): the store fails, unless closing."""
        if self._phase == "open" and self.client.status is Status.CLOSED:
            self._fail_store(error)

    def _fail_store(self, error: BaseException) -> None:
        if self._failure is not None:
            return
        failure = StoreFailed(self._name, f"the connection closed: {error}")
        failure.__cause__ = error
        if self._phase == "open":
            log.error("durable store %s: %s", self._name, failure)
        self._fail_all(failure, report=True)

    def _fail_all(self, failure: StoreFailed, *, report: bool) -> None:
        if self._failure is None:
            self._failure = failure
        for commit in list(self._open):
            self._fail_commit(commit, failure)
        # Dropped unpublished: each fails as a commit of it would (waiters, failure
        # callbacks, reservations), its batch left open (``durable`` raises the failure).
        staged, self._staged = self._staged, []
        for batch in staged:
            self._fail_commit(_Commit(batch), failure)
        for task, _ in self._flushers:
            reschedule(task, outcome.Error(StoreFailed(*failure.args)))
        self._flushers.clear()
        if report:
            for listener in list(self._listeners.values()):
                listener.store_failed(failure)

    def bury(
        self,
        batch: WriteBatch,
        mailbox: str,
        message: Received,
        *,
        reason: str,
        traceback: str | None,
        deliveries: int,
        first_delivered_at: float | None,
        last_delivered_at: float | None,
    ) -> None:
        """Publish ``message`` on the dead-letter stream in ``batch``, then ``+TERM`` it.

        The dead letter is the message's payload as it was stored, with the
        facts in a header; a traceback too long for the room left (by
        ``max_payload`` beside the payload, and by JetStream's 64 KiB of
        headers) keeps only its end. Tells keep ``_DEAD_RESERVE`` bytes of
        ``max_payload`` free for the facts.
        """
        from trouper.durable._clock import wall_now

        facts: dict[str, object] = {
            "mailbox": mailbox,
            "seq": message.id,
            "attempts": deliveries,
            "reason": reason,
            "traceback": traceback,
            "enqueued_at": message.enqueued_at,
            "first_delivered_at": first_delivered_at,
            "last_delivered_at": last_delivered_at,
            "dead_at": wall_now(),
        }
        # The sequence alone repeats in a mailbox stream made again (a new message would
        # be dropped as an old one's copy, then terminated); its stored time does not,
        # and is the same on every delivery of the message: one dead letter per message.
        key = f"dead:{_token(mailbox)}:{message.id}:{message.enqueued_at!r}"
        fields = {"Trouper-Type": message.type_name}
        if message.msg_id is not None:
            fields["Trouper-Msg-Id"] = message.msg_id
        # Bytes left for the facts' JSON: the limit less the payload, the other headers
        # (with the facts' own name and the dedup key's line) and a margin.
        others = len(encode_headers(Headers(fields))) + len(key) + 64
        room = min(self.client.max_payload - len(message.payload), _HEADERS_MAX) - others
        text = _fitted(facts, room)
        batch.add(
            _DeadAppend(
                self._dead_subject(mailbox),
                message.payload,
                Headers({**fields, "Trouper-Dead": text}),
                key,
            )
        )
        receipt = message.receipt
        first_line = reason.splitlines()[0] if reason else "dead letter"

        def term() -> None:
            try:
                receipt.term_nowait(reason=first_line[:200])
            except Exception as error:
                log.debug("a +TERM could not be sent (%r); it will be redelivered", error)

        batch.after_commit(term)

    def attach(self, mailbox: str, listener: MailboxListener) -> None:
        """Tell ``listener`` about every batch that appends to ``mailbox``, once durable."""
        self._listeners[mailbox] = listener
        if mailbox not in self._depths:
            self._depths[mailbox] = _Depth()

    def detach(self, mailbox: str, listener: MailboxListener) -> None:
        """Stop telling ``mailbox``'s listener, if it is still ``listener``."""
        if self._listeners.get(mailbox) is listener:
            del self._listeners[mailbox]
            self._depths.pop(mailbox, None)

    def depth(self, mailbox: str) -> int | None:
        """``mailbox``'s messages stored and not settled, as far as this process knows.

        The stream's count as the server reported it at the last read, plus
        the messages this process stored there and less those it acked or
        terminated since that read was sent. Read again every ``_DEPTH_PERIOD``
        (1 s) while someone asks for it, so what other processes store or
        settle shows in the answers about a second after the first one asked
        for; an ack sent just before a read may not be applied by the server
        yet, and counts until the next. No wait and no I/O: a read of numbers
        (any thread). None for a mailbox not hosted here, or not read yet.
        """
        known = self._depths.get(mailbox)
        return None if known is None else known.count()

    # --- reading ---------------------------------------------------------------------

    async def load_state(self, key: str) -> bytes | None:
        """Return the state saved last under ``key`` (a last-by-subject get), or None.

        A server not ready, or a connection that dropped with the read out, is
        waited out (read again every 0.2 s), as opening the mailbox does.
        """
        while True:
            self._writable()
            try:
                found = await self.client.jetstream().get_msg(
                    self._state_stream, last_by_subject=self._state_subject(key)
                )
            except NatsError as error:
                if isinstance(error, JetStreamError) and error.code == 404:
                    return None
                if not _passing(error):
                    raise
                await trio.sleep(_PASSING_PAUSE)
                continue
            return found.data

    async def dead_letters(self, mailbox: str | None = None) -> AsyncIterator[DeadLetterRecord]:
        """Iterate over the dead-letter stream (of one mailbox or all), oldest first.

        Raises:
            TypeError: ``mailbox`` is not a name (nor None).
        """
        mailbox, _ = checked_dead_letter_choice(mailbox, None)
        js = self.client.jetstream()
        subject = self._dead_subject(mailbox)
        seq = 1
        while True:
            try:
                found = await js.get_msg(self._dead_stream, seq=seq, next_by_subject=subject)
            except JetStreamError as error:
                if error.code == 404:
                    return
                raise
            seq = found.seq + 1
            try:
                record = self._record(found.seq, found.data, found.headers)
            except (ValueError, KeyError, TypeError) as error:
                # Not written by trouper (another publisher on the subject): listed
                # as it is, so it can be seen and discarded, not breaking the listing.
                token = found.subject.rsplit(".", 1)[-1]
                reason = f"unreadable dead-letter record ({type(error).__name__}: {error})"
                log.warning("durable store: dead letter %d: %s", found.seq, reason)
                record = DeadLetterRecord(
                    found.seq, _name_of(token) or token, "", found.data, None, 0, reason,
                    None, 0.0, None, None, 0.0, None,
                    "the dead-letter record is unreadable: there is no message to decode",
                )  # fmt: skip
            yield record

    def _record(self, seq: int, data: bytes, headers: Headers | None) -> DeadLetterRecord:
        facts = None if headers is None else headers.get("Trouper-Dead")
        if facts is not None and headers is not None:
            body = json.loads(facts)
            body["type_name"] = headers.get("Trouper-Type") or ""
            body["msg_id"] = headers.get("Trouper-Msg-Id")
            payload = data
        else:
            # Stored by an earlier trouper: the whole record as JSON, the payload in base64.
            body = json.loads(data)
            payload = base64.b64decode(body["payload"])
        record = DeadLetterRecord(
            seq,
            body["mailbox"],
            body["type_name"],
            payload,
            body.get("msg_id"),
            int(body["attempts"]),
            body["reason"],
            body.get("traceback"),
            float(body["enqueued_at"]),
            body.get("first_delivered_at"),
            body.get("last_delivered_at"),
            float(body["dead_at"]),
        )
        # A message that does not decode here is listed with why (decode_error).
        return decoded(record, self.codec)

    async def _chosen(
        self, mailbox: str | None, ids: Sequence[int] | None
    ) -> list[DeadLetterRecord]:
        wanted = None if ids is None else set(ids)
        return [
            record
            async for record in self.dead_letters(mailbox)
            if wanted is None or record.id in wanted
        ]

    async def redrive(
        self,
        mailbox: str | None = None,
        ids: Sequence[int] | None = None,
        *,
        to: str | None = None,
    ) -> int:
        """Publish dead letters back to their mailboxes (deliveries from zero); return how many.

        Each is published with a key made from its dead-letter sequence and
        time of death (a redrive repeated after a crash, or run by two
        processes at once, does not store it twice; a letter of a dead-letter
        stream made again, whose sequences start at 1 again, is not taken for
        an older one), then deleted from the dead-letter stream; one
        another call deleted first is not counted here. With ``to``, every one
        chosen goes to that mailbox instead (its stream is made if missing, and
        its messages wait there until an actor of that name starts).

        Raises:
            TypeError: ``mailbox``, ``ids`` or ``to`` is of the wrong type.
            ValueError: ``to`` could name no actor (empty, with ``/`` or whitespace...),
                or its stream's name would be too long for the server.
        """
        mailbox, ids = checked_dead_letter_choice(mailbox, ids)
        target = checked_redrive_target(to)
        if target is not None:
            self._check_mailbox_name(target)
        self._writable()
        js = self.client.jetstream()
        count = 0
        for record in await self._chosen(mailbox, ids):
            headers = {"Trouper-Type": record.type_name}
            if record.msg_id is not None:
                headers["Trouper-Msg-Id"] = record.msg_id
            destination = record.mailbox if target is None else target
            while True:
                try:
                    ack = await js.publish(
                        self._beyond_subject(self.subject(destination)),
                        record.payload,
                        headers=headers,
                        # Its id alone repeats once an operator remade the dead-letter
                        # stream: a new letter would be dropped as an old one's copy, then
                        # deleted. Its time of death is the same in every listing of it.
                        msg_id=f"r:{record.id}:{record.dead_at!r}",
                    )
                    break
                except NoResponders:
                    self._streams.discard(destination)
                    await self._ensure_mailbox(destination, None)
            depth = self._depths.get(destination)
            if depth is not None and not ack.duplicate:
                depth.changes += 1
            count += await self._delete_dead(js, record.id)
        return count

    async def discard(self, mailbox: str | None = None, ids: Sequence[int] | None = None) -> int:
        """Delete dead letters for good; return how many (not those another call deleted first)."""
        mailbox, ids = checked_dead_letter_choice(mailbox, ids)
        self._writable()
        js = self.client.jetstream()
        count = 0
        for record in await self._chosen(mailbox, ids):
            count += await self._delete_dead(js, record.id)
        return count

    async def _delete_dead(self, js: JetStream, seq: int) -> int:
        """Delete dead letter ``seq``: 1, or 0 if another call took it since it was listed.

        Another process's ``redrive`` or ``discard`` of the same letters may
        run at once: a letter already gone is theirs (and counted there).
        """
        try:
            await js.delete_msg(self._dead_stream, seq)
        except JetStreamError as error:
            if error.err_code != 10057:  # no message found
                raise
            return 0
        return 1

    async def mailbox_statistics(self) -> list[MailboxStatistics]:
        """The counts of every mailbox under this prefix, by name, as the server reports them.

        ``in_flight`` is the consumer's delivered-and-unacked count (nacked
        messages waiting out a delay included); ``delayed`` is always 0 (the
        server does not report it apart). A mailbox whose stream is deleted
        while they are read is left out; a dead-letter stream an operator
        deleted counts no dead letters.
        """
        self._writable()
        js = self.client.jetstream()
        marker = f"{self.prefix}_mailbox_"
        dead: dict[str, int] = {}
        try:
            counts = await js.subject_counts(self._dead_stream, self._dead_subject(None))
        except JetStreamError as error:
            if error.err_code != 10059:
                raise
            counts = {}  # deleted by an operator: no dead letters (the next one makes it again)
        for subject, count in counts.items():
            name = _name_of(subject.rsplit(".", 1)[1])
            if name is not None:
                dead[name] = count
        found: dict[str, MailboxStatistics] = {}
        for stream in await js.stream_names(f"{self.prefix}.mailbox.>"):
            if not stream.startswith(marker):
                continue
            name = _name_of(stream[len(marker) :])
            if name is None:
                continue  # an operator's stream named like a mailbox's
            try:
                info = await js.stream_info(stream)
                in_flight = 0
                ready = info.state.messages
                try:
                    consumer = await js.consumer_info(stream, CONSUMER)
                    in_flight = consumer.num_ack_pending
                    ready = consumer.num_pending
                except JetStreamError as error:
                    if error.err_code != 10014:  # no consumer: nobody hosted it yet
                        raise
            except JetStreamError as error:
                if error.err_code != 10059:
                    raise
                continue  # deleted since it was listed: no such mailbox any more
            found[name] = MailboxStatistics(
                name, info.state.messages, ready, in_flight, 0, dead.get(name, 0)
            )
        for name, count in dead.items():
            if name not in found:
                found[name] = MailboxStatistics(name, 0, 0, 0, 0, count)
        return [found[name] for name in sorted(found)]

    def statistics(self) -> StoreStatistics:
        """What the store has published: groups taken, batches, publishes, largest group."""
        return StoreStatistics(
            self._commits,
            self._batches,
            self._rows,
            self._largest_group,
            len(self._staged) + len(self._open),
            self._failure is not None,
        )


_MAILBOX_FIELDS: Final = (
    "subjects",
    "description",
    "retention",
    "storage",
    "max_msgs",
    "max_msgs_per_subject",
    "discard",
    "discard_new_per_subject",
    "duplicate_window",
    "num_replicas",
)
"""The fields of a mailbox's stream its options and trouper's layout set (``_mailbox_stream``)."""


def _with_fields_of(old: StreamConfig, config: StreamConfig) -> StreamConfig:
    """``old`` with the fields trouper sets taken from ``config``: the others stay as they are."""
    return attrs.evolve(old, **{name: getattr(config, name) for name in _MAILBOX_FIELDS})


def _per_subject(limit: int) -> float:
    """A stream's ``max_msgs_per_subject`` as a number of messages (-1, none: infinity)."""
    return math.inf if limit < 0 else limit


def _carried(msg_id: str) -> bool:
    """Whether a header carries ``msg_id`` as it is (a value is stripped, and one line of UTF-8)."""
    return (
        "\r" not in msg_id and "\n" not in msg_id and msg_id == msg_id.strip() and is_utf8(msg_id)
    )


def _uncarried(msg_id: str) -> ValueError:
    """The refusal of a msg_id a header does not carry as it is (see ``_carried``)."""
    if "\r" in msg_id or "\n" in msg_id:
        return ValueError(f"a msg_id goes in a header, which cannot hold CR or LF: {msg_id!r}")
    if msg_id != msg_id.strip():
        return ValueError(
            "a msg_id goes in a header, whose value loses leading and trailing whitespace: "
            f"{msg_id!r}"
        )
    return ValueError(f"a msg_id goes in a header as UTF-8, which cannot encode {msg_id!r}")


def _check_size(publish: _Publish, limit: int) -> None:
    """Raise if the client would refuse ``publish`` as too large, or could not dead-letter it.

    A message for a mailbox must leave ``_DEAD_RESERVE`` bytes of
    ``max_payload`` for the facts its dead letter carries beside it.

    Raises:
        ValueError: a message for a mailbox is over ``max_payload - _DEAD_RESERVE``.
        MaxPayloadExceeded: another publish is over ``max_payload``.
    """
    size = len(publish.payload)
    reserve = 0 if publish.mailbox is None else _DEAD_RESERVE
    if size + _HEADROOM + reserve <= limit:
        return
    if publish.headers is not None:
        size += len(encode_headers(publish.headers))
    elif publish.key is not None:
        size += 12  # the bare block, b"NATS/1.0\r\n\r\n"
    if publish.key is not None:
        size += len(publish.key.encode()) + 15  # b"Nats-Msg-Id: <key>\r\n"
    if reserve and size + reserve > limit:
        raise _too_large(size, limit, reserve)
    if size > limit:
        raise MaxPayloadExceeded(size, limit)


def _too_large(size: int, limit: int, reserve: int) -> ValueError:
    """The error of a message of ``size`` bytes (headers included) that a mailbox cannot take."""
    return ValueError(
        f"a message of {size} bytes with its headers is too large for a durable mailbox: "
        f"at most {limit - reserve} bytes with its headers (the server's max_payload of "
        f"{limit} less {reserve} kept for its dead letter)"
    )


def _copy(failure: StoreFailed) -> StoreFailed:
    """A fresh copy of ``failure`` (a ``StoreRefused`` stays one) and its cause, to raise again.

    So that no two raises share (and grow) one traceback.
    """
    copy = StoreRefused(*failure.args) if type(failure) is StoreRefused else copy_failure(failure)
    copy.__cause__ = failure.__cause__
    return copy


_HEADERS_MAX: Final = 60 * 1024
"""Bytes of headers a dead letter may have (JetStream refuses over 64 KiB of them)."""

_DEAD_RESERVE: Final = 1024
"""Bytes of ``max_payload`` a mailbox's message leaves free for its dead letter's facts.

The mailbox's name, never cut, is in the facts and in the dead letter's key;
it fits, since the server keeps stream names (which hold its token) to 255
bytes (tests/durable_js/test_js_review9_dead_name.py tries the worst names).
"""


def _fitted(facts: dict[str, object], room: int) -> str:
    """``facts`` as JSON in at most ``room`` bytes if it can be: long texts cut to fit.

    A reason over 500 characters keeps its first and last 250; a traceback
    keeps as much of its end (the error) as the room allows, or nothing; if
    that is still too long (a long mailbox name beside a message at the size
    limit), the reason keeps as much of its start and end as fits. What
    cannot be cut (the numbers, the mailbox's name) may leave it longer.
    """
    text = json.dumps(facts)
    if len(text) <= room:
        return text
    reason = facts.get("reason")
    if isinstance(reason, str) and len(reason) > 500:
        facts["reason"] = f"{reason[:250]} [...] {reason[-250:]}"
    traceback = facts.get("traceback")
    facts["traceback"] = None
    spare = room - len(json.dumps(facts)) - 16
    if isinstance(traceback, str) and spare > 0:
        keep = traceback[-spare:]
        while keep:
            facts["traceback"] = "[...]" + keep
            text = json.dumps(facts)  # escapes may make it longer than the characters kept
            if len(text) <= room:
                return text
            keep = keep[len(keep) // 4 or 1 :]
        facts["traceback"] = None
    text = json.dumps(facts)
    reason = facts.get("reason")
    if len(text) > room and isinstance(reason, str):
        chars = len(reason) - (len(text) - room) - 7  # " [...] " replaces what goes
        while chars > 0:
            head = chars // 2
            facts["reason"] = f"{reason[:head]} [...] {reason[len(reason) - (chars - head) :]}"
            text = json.dumps(facts)  # escapes, as above
            if len(text) <= room:
                return text
            chars -= len(text) - room
        facts["reason"] = "[...]"
        text = json.dumps(facts)
    return text


_HEADROOM: Final = 64 * 1024
"""Bytes of headers below which a publish cannot be too large (its size is then not counted)."""


_ROOM_REFUSALS: Final = frozenset(
    {
        "maximum messages per subject exceeded",
        "maximum messages exceeded",
        "maximum bytes exceeded",
    }
)
"""What the server says when a stream with ``discard: new`` has no room: an ack makes some."""


def _full(error: NatsError) -> bool:
    """Whether a refused publish says the mailbox is full (it may be tried again later).

    Only the refusals for room: others that name a maximum ("message size
    exceeds maximum allowed", "header size exceeds maximum allowed") refuse
    the message for good, and sending it again would wait for ever.
    """
    return isinstance(error, JetStreamError) and error.description.lower() in _ROOM_REFUSALS


def _over_max_msg_size(error: NatsError) -> bool:
    """Whether a refused publish was over its stream's ``max_msg_size``."""
    return isinstance(error, JetStreamError) and error.err_code == 10054


def _passing(error: NatsError) -> bool:
    """Whether a request to JetStream's API failed for now, so that asking again may work.

    Its server is not ready (no responder, busy), the connection dropped
    with the request out, or the client's outage buffer had no room for it
    (the client reconnects: a closed client is ``ConnectionClosed``, not this).
    """
    return isinstance(error, NoResponders | ConnectionLost | OutboundBufferFull) or _busy(error)


def _busy(error: NatsError) -> bool:
    """Whether JetStream says it cannot answer now (starting, electing a leader...).

    Not a refusal for room, which the server also answers with 503: that one
    is ``_full``'s, waited out in a mailbox only.
    """
    return isinstance(error, JetStreamError) and error.code == 503 and not _full(error)
