"""The store protocol: what a durable mailbox needs of the place its messages live.

SQLite implements it (``SqliteStore``); NATS JetStream will. The words are a
broker's: a producer *appends* to a mailbox (a stream's subject), a consumer
*fetches* a bounded batch (a pull consumer's fetch, Kafka's poll) and then
*acks* each message (deleted), *nacks* it (redelivered later, its delivery
counted) or moves it to the *dead-letter queue*; *redrive* puts dead letters
back (SQS's word), *discard* drops them; *flush* is the barrier for
everything staged (Kafka's and NATS's ``flush``). Statistics use SQS's
words: *depth*, *in flight*, *delayed*.

Writes are gathered in a ``WriteBatch``: everything one handler's outcome
changes (its ack, the messages it sent, the actor's new state) commits in one
transaction, or none of it does. ``stage`` queues a batch for the next commit
and returns at once; ``submit`` also waits until it is durable.

Times are wall-clock seconds that follow Trio's clock (see ``_clock``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple, Protocol

import attrs
from trio.lowlevel import Task

from trouper._text import describe
from trouper._validate import check_name
from trouper.codec import Codec
from trouper.errors import (
    StoreFailed,
    StoreRefused,
    UndecodableMessage,
    UnknownMessageType,
    UnresolvableRef,
)

if TYPE_CHECKING:
    from trouper.durable._queue import MessageCodec

__all__ = [
    "Append",
    "DeadLetterRecord",
    "DeliveringStore",
    "Feed",
    "MailboxListener",
    "MailboxOpening",
    "MailboxStatistics",
    "PolledStore",
    "Receipt",
    "Received",
    "Store",
    "StoreStatistics",
    "StoredMessage",
    "TellBatch",
    "WriteBatch",
]

# Said after an unresolvable ref's reason when the codec has no resolver at all.
_NO_RUNTIME = (
    " (refs resolve only through rt.store of a runtime, open_runtime(store=...); "
    "a store opened alone, or listed by the command line, cannot resolve them)"
)

log = logging.getLogger("trouper")


class StoredMessage(NamedTuple):
    """A message as the store holds it, handed out by ``fetch`` or ``next_suspect``.

    An immutable value (a named tuple: made by the thousand per fetch, it
    must be cheap to build).
    """

    id: int
    """The delivery id: unique among stored messages, increasing in append order."""
    mailbox: str
    """The mailbox (the durable actor's name) it waits in."""
    type_name: str
    """The message type's stable name (how the codec finds its class)."""
    payload: bytes
    """The encoded message."""
    msg_id: str | None
    """The sender's message id (the dedup key), if it gave one."""
    deliveries: int
    """Deliveries recorded so far (each counts one handler run, possibly interrupted)."""
    retries: int
    """How many of those deliveries ended with ``Retry`` (they do not count as failures)."""
    enqueued_at: float
    """When it was first appended (wall-clock seconds)."""
    first_delivered_at: float | None
    """When it was first handed to a handler, if a delivery was recorded."""
    last_delivered_at: float | None
    """When it was last handed to a handler, if a delivery was recorded."""


@attrs.frozen
class DeadLetterRecord:
    """A message in the dead-letter queue: what it was, why it died, and when."""

    id: int
    """Its delivery id when it died (``redrive`` gives it a new one)."""
    mailbox: str
    """The mailbox it was taken from (where ``redrive`` puts it back, unless given ``to``)."""
    type_name: str
    """The message type's stable name."""
    payload: bytes
    """The encoded message."""
    msg_id: str | None
    """The sender's message id, if it gave one."""
    attempts: int
    """How many deliveries it had."""
    reason: str
    """Why it died, one line first (the error, ``GiveUp``'s reason, ``max_deliveries``...)."""
    traceback: str | None
    """The last handler error's traceback text, if an error killed it."""
    enqueued_at: float
    """When it was first appended (wall-clock seconds)."""
    first_delivered_at: float | None
    """When it was first handed to a handler."""
    last_delivered_at: float | None
    """When it was last handed to a handler."""
    dead_at: float
    """When it was moved to the dead-letter queue."""
    message: object = None
    """The message, decoded by the store's codec; None if it cannot be decoded here.

    A ref in it resolves in the store's runtime, which binds the store's
    codec as it starts (docs/durable.md); a store with no runtime cannot
    resolve refs.
    """
    decode_error: str | None = None
    """Why ``message`` could not be decoded here, or None when it was decoded.

    The codec's reason, one line: no class is registered under ``type_name``
    in this process, the payload no longer fits its class (with the fields
    that do not fit, and why), it holds a ref that cannot be resolved (a
    store listed without a runtime has no resolver), or it is not well-formed.
    ``type_name`` and ``payload`` are there either way.
    """


@attrs.frozen
class MailboxStatistics:
    """Counts of one mailbox's messages, as committed."""

    name: str
    """The mailbox."""
    depth: int
    """Messages stored: ready + in flight + delayed."""
    ready: int
    """Available and not yet claimed by a consumer."""
    in_flight: int
    """Claimed by a consumer (prefetched or being handled) and not yet settled."""
    delayed: int
    """Waiting out a backoff before their next delivery."""
    dead: int
    """Messages of this mailbox in the dead-letter queue."""


@attrs.frozen
class StoreStatistics:
    """What the store's writer has done since it opened (group commit shows here)."""

    commits: int
    """Transactions committed."""
    batches: int
    """Write batches committed (many per transaction under load)."""
    rows: int
    """Rows written or deleted by those batches."""
    largest_group: int
    """The most batches one transaction carried."""
    pending: int
    """Batches staged and not yet committed."""
    failed: bool
    """Whether a commit failed (the store then refuses writes)."""


@attrs.frozen
class MailboxOpening:
    """What a consumer learns when it opens a mailbox: a snapshot, taken in one commit.

    Appends that commit after the snapshot are not in it; a listener attached
    before the opening hears of them, maybe before ``open_mailbox`` returns,
    and tells them apart by their ids (above ``last_id``).
    """

    depth: int
    """Messages stored in it."""
    last_id: int
    """The highest delivery id the store had given out when ``depth`` was counted.

    A message appended later has a higher id (ids increase in commit order)
    and is not in ``depth``.
    """
    recovering: bool
    """Whether suspects of an unclean stop must be handled one at a time first."""
    delayed: tuple[tuple[int, float], ...]
    """``(id, available_at)`` of the messages waiting out a backoff."""


class Append:
    """One message to append to a mailbox; the store fills in ``id`` and ``accepted``."""

    __slots__ = (
        "accepted",
        "claim",
        "dedup_until",
        "hint",
        "id",
        "mailbox",
        "msg_id",
        "payload",
        "type_name",
    )

    def __init__(
        self,
        mailbox: str,
        type_name: str,
        payload: bytes,
        msg_id: str | None,
        dedup_until: float | None,
        claim: bool,
        hint: object,
    ) -> None:
        # The mailbox to append to.
        self.mailbox = mailbox
        # The message type's stable name.
        self.type_name = type_name
        # The encoded message (bytes, checked when staged).
        self.payload = payload
        # The sender's message id: a second append with it is dropped while
        # the first one's dedup record lives.
        self.msg_id = msg_id
        # When the dedup record expires (wall seconds); None keeps it for good.
        self.dedup_until = dedup_until
        # Whether the consumer takes it at once: the commit also raises the
        # mailbox's claim watermark to it (see docs/durable.md).
        self.claim = claim
        # Anything the appender wants back after the commit (never stored).
        self.hint = hint
        # The delivery id, set by the store when the batch commits (0 before).
        self.id = 0
        # False once committed if it was a duplicate and was dropped.
        self.accepted = False


class WriteBatch:
    """Writes that commit together, in one transaction, or not at all.

    Build one, fill it, and hand it to ``Store.stage`` or ``Store.submit``; it
    is not reused after. Within a commit, the appends of all batches are made
    first (in staging order), then nacks, dead-letter moves, acks, state saves
    and claim releases, so a batch may ack a message and append its results.
    A write the store refuses fails the whole batch, unless the batch is
    ``separable`` (a ``TellBatch``).
    """

    __slots__ = (
        "_callbacks",
        "_on_failure",
        "acks",
        "appends",
        "dead",
        "nacks",
        "refused",
        "releases",
        "sealed",
        "states",
        "tried",
        "waiters",
    )

    separable: ClassVar[bool] = False
    """Whether the store may refuse one append alone and commit the rest (``TellBatch``)."""

    def __init__(self) -> None:
        # Messages to append, in order.
        self.appends: list[Append] = []
        # Delivery ids to delete (handled).
        self.acks: list[int] = []
        # (deliveries, retries, available_at, delivered_at, first_delivered_at, id).
        self.nacks: list[tuple[int, int, float, float, float, int]] = []
        # (deliveries, reason, traceback, first_delivered_at, last_delivered_at, id).
        self.dead: list[tuple[int, str, str | None, float | None, float | None, int]] = []
        # (key, data): actor states to save, the last one per key wins.
        self.states: list[tuple[str, bytes]] = []
        # Mailboxes whose claim watermark is cleared (their consumer closed);
        # a suspect out and not settled is uncharged (it did not run).
        self.releases: list[str] = []
        # Mailboxes whose suspect out was settled (no longer being tried).
        self.tried: list[str] = []
        # Functions run on Trio's thread once this batch is durable.
        self._callbacks: list[Callable[[], object]] | None = None
        # Functions run on Trio's thread with the error if this batch's commit fails.
        self._on_failure: list[Callable[[BaseException], object]] | None = None
        # Set by the store when it takes the batch into a commit: from then on
        # it must not change (a producer that keeps a batch open starts another).
        self.sealed = False
        # Tasks parked until this batch is durable (``Store.durable``), or None: the
        # store reschedules each once, with None or the error that failed the commit.
        self.waiters: list[Task] | None = None
        # The appends the store refused alone, each with why (a ``separable`` batch
        # only), set by the store before the batch is durable; None if none was.
        self.refused: list[tuple[Append, StoreRefused]] | None = None

    def __bool__(self) -> bool:
        return bool(
            self.appends
            or self.acks
            or self.nacks
            or self.dead
            or self.states
            or self.releases
            or self.tried
        )

    @property
    def rows(self) -> int:
        """How many rows this batch writes or deletes."""
        return (
            len(self.appends)
            + len(self.acks)
            + len(self.nacks)
            + 2 * len(self.dead)
            + len(self.states)
            + len(self.releases)
            + len(self.tried)
        )

    def append(
        self,
        mailbox: str,
        type_name: str,
        payload: bytes,
        *,
        msg_id: str | None = None,
        dedup_until: float | None = None,
        claim: bool = False,
        hint: object = None,
    ) -> Append:
        """Append a message to ``mailbox``; return the record the commit fills in.

        With a ``msg_id``, the message is dropped (``accepted`` stays False) if
        the mailbox kept that id from an earlier append whose dedup record has
        not expired; ``dedup_until`` is when this one's expires (``None``: never).
        """
        if type(payload) is not bytes:
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        record = Append(mailbox, type_name, payload, msg_id, dedup_until, claim, hint)
        self.appends.append(record)
        return record

    def ack(self, delivery_id: int) -> None:
        """Delete a handled message."""
        self.acks.append(delivery_id)

    def nack(
        self,
        delivery_id: int,
        *,
        deliveries: int,
        retries: int,
        available_at: float,
        delivered_at: float,
        first_delivered_at: float,
    ) -> None:
        """Record an unsuccessful delivery; the message is available again at ``available_at``."""
        self.nacks.append(
            (deliveries, retries, available_at, delivered_at, first_delivered_at, delivery_id)
        )

    def dead_letter(
        self,
        delivery_id: int,
        *,
        reason: str,
        traceback: str | None,
        deliveries: int,
        first_delivered_at: float | None,
        last_delivered_at: float | None,
    ) -> None:
        """Move a message to the dead-letter queue."""
        self.dead.append(
            (deliveries, reason, traceback, first_delivered_at, last_delivered_at, delivery_id)
        )

    def save_state(self, key: str, data: bytes) -> None:
        """Save an actor's durable state under ``key``."""
        if type(data) is not bytes:
            raise TypeError(f"state data must be bytes, got {type(data).__name__}")
        self.states.append((key, data))

    def release(self, mailbox: str) -> None:
        """Record a clean stop of ``mailbox``'s consumer: nothing of it is in progress.

        Clears the claim watermark; a suspect handed out and not settled gets
        back the delivery charged to it (it was returned, not run).
        """
        self.releases.append(mailbox)

    def settle_suspect(self, mailbox: str) -> None:
        """Record that ``mailbox``'s suspect out was settled (it is no longer being tried)."""
        self.tried.append(mailbox)

    def add(self, record: Append) -> Append:
        """Append a record built by the caller (a subclass of ``Append`` may carry more)."""
        if type(record.payload) is not bytes:
            raise TypeError(f"payload must be bytes, got {type(record.payload).__name__}")
        self.appends.append(record)
        return record

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` on Trio's thread once the batch is durable (never if it fails)."""
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append(callback)

    def callbacks(self) -> Sequence[Callable[[], object]]:
        """The functions ``after_commit`` registered, in order."""
        return self._callbacks or ()

    def after_failure(self, callback: Callable[[BaseException], object]) -> None:
        """Run ``callback(error)`` on Trio's thread if the batch's commit fails (never if durable).

        For what was waiting on the commit and must be released instead: the
        input a handler's batch would have acked, for one.
        """
        if self._on_failure is None:
            self._on_failure = []
        self._on_failure.append(callback)

    def failure_callbacks(self) -> Sequence[Callable[[BaseException], object]]:
        """The functions ``after_failure`` registered, in order."""
        return self._on_failure or ()


class TellBatch(WriteBatch):
    """A batch whose appends are tells, each a sender's of its own: the store may refuse one alone.

    The tells of one scheduler pass share a batch (one commit for many
    senders), with the mailbox's acks, nacks and dead-letter moves, but no
    append in it is tied to another write (a handler's sends, which are, go
    in a plain ``WriteBatch`` with their ack): a store that refuses one for
    good (a per-message limit: too large for its stream...) leaves it out,
    sets ``accepted`` False, records ``(append, error)`` in ``refused`` and
    commits the rest. The batch is then durable as usual: its waiters wake,
    its ``after_commit`` callbacks run, the listener's ``appended`` gets every
    append (the refused ones not ``accepted``), then its ``refused``. So one
    sender's refused message fails only that sender's tell. A store that
    never refuses one message alone (SQLite) treats it as any batch.
    """

    __slots__ = ()

    separable: ClassVar[bool] = True


class MailboxListener(Protocol):
    """What the store tells a mailbox's live consumer (on Trio's thread, right after a commit)."""

    def appended(self, appends: Sequence[Append]) -> None:
        """Messages appended to the mailbox were committed (``accepted`` says which were kept)."""

    def refused(self, refusals: Sequence[tuple[Append, StoreRefused]]) -> None:
        """Appends to the mailbox were refused alone (``TellBatch.refused``); after ``appended``."""

    def store_failed(self, error: BaseException) -> None:
        """A commit failed: the store accepts no more writes."""


class Store(Protocol):
    """Where durable mailboxes keep their messages, dead letters, dedup ids and actor states.

    Every method is called from Trio's thread. Writes are grouped: a store
    commits everything staged since its last commit in one transaction.

    This is what every store does. How messages reach a consumer comes in two
    kinds, told apart by ``redelivers``: a ``PolledStore`` (SQLite) is a table
    the mailbox reads, claims and updates, keeping the redelivery timers and
    the crash recovery itself; a ``DeliveringStore`` (JetStream) is a broker
    that pushes messages, counts their deliveries and redelivers them on its
    own (after a nack's delay, or when an ack does not come in time).
    """

    @property
    def redelivers(self) -> bool:
        """Whether the store delivers and redelivers by itself (a ``DeliveringStore``)."""

    async def open(self) -> None:
        """Open the store (create, check, migrate); raise a ``StoreError`` if it cannot be used."""

    async def aclose(self) -> None:
        """Commit what is staged, record a clean stop and close (idempotent)."""

    def stage(self, batch: WriteBatch) -> None:
        """Queue ``batch`` for the next commit and return at once.

        Raises:
            StoreFailed: an earlier commit failed.
        """

    async def submit(self, batch: WriteBatch) -> None:
        """Stage ``batch`` and wait until it is durable.

        A cancellation before the batch is staged raises ``trio.Cancelled``
        and stages nothing; once staged, the call waits for the commit.

        Raises:
            StoreFailed: its commit (or an earlier one) failed: nothing in it was stored.
        """

    async def stage_and_wait(self, batch: WriteBatch) -> None:
        """Stage ``batch`` and wait until it is durable; not cancellable (as ``durable``).

        The batch stays open until its commit starts: tasks running in this
        pass of the scheduler may add to it and wait for it with ``durable``.
        ``submit`` without its cancellation check, for a caller that has
        already counted what the batch holds; a sender alone starts its
        commit at once, without a task woken to find it started.

        Raises:
            StoreFailed: its commit (or an earlier one) failed: nothing in it was stored.
        """

    async def flush(self) -> None:
        """Wait until everything staged before this call is durable."""

    async def durable(self, batch: WriteBatch) -> None:
        """Wait until ``batch``, staged earlier and still open, is durable; not cancellable.

        The caller is done filling it: the store may start its commit at once.

        Raises:
            StoreFailed: its commit failed, or the store stopped before it.
        """

    def attach(self, mailbox: str, listener: MailboxListener) -> None:
        """Tell ``listener`` about every commit that appends to ``mailbox`` (one per mailbox)."""

    def detach(self, mailbox: str, listener: MailboxListener) -> None:
        """Stop telling ``mailbox``'s listener, if it is still ``listener``."""

    async def load_state(self, key: str) -> bytes | None:
        """Return the state saved under ``key``, or None."""

    async def mailbox_statistics(self) -> list[MailboxStatistics]:
        """Return the counts of every mailbox, by name."""

    def dead_letters(self, mailbox: str | None = None) -> AsyncIterator[DeadLetterRecord]:
        """Iterate over the dead-letter queue (of one mailbox or all), oldest first."""

    async def redrive(
        self,
        mailbox: str | None = None,
        ids: Sequence[int] | None = None,
        *,
        to: str | None = None,
    ) -> int:
        """Move dead letters back to their mailboxes, or all to ``to`` (deliveries reset).

        Returns how many were moved.
        """

    async def discard(self, mailbox: str | None = None, ids: Sequence[int] | None = None) -> int:
        """Delete dead letters for good; return how many."""

    def statistics(self) -> StoreStatistics:
        """Return the writer's counters."""


class PolledStore(Store, Protocol):
    """A store the mailbox reads: it fetches and claims, keeps timers, recovers suspects (SQLite).

    ``redelivers`` is False.
    """

    async def open_mailbox(self, mailbox: str) -> MailboxOpening:
        """Prepare ``mailbox`` for a consumer; record suspects if its last stop was unclean.

        After an unclean stop, the messages the consumer had claimed (its claim
        watermark) may have been in progress: each available one is charged one
        delivery, and they become suspects, to be handed out one at a time
        through ``next_suspect`` before anything else.
        """

    async def next_suspect(
        self, mailbox: str, *, after: int | None, max_deliveries: int
    ) -> StoredMessage | None:
        """Return the next suspect with its delivery recorded, or None when recovery is over.

        ``after`` is the previous suspect, now settled. A suspect that has
        already used ``max_deliveries`` deliveries goes to the dead-letter
        queue instead (it kept stopping the process), and the next one is tried.
        """

    async def fetch(
        self,
        mailbox: str,
        *,
        after: int = 0,
        ids: Sequence[int] | None = None,
        limit: int,
        prepare: Callable[[list[StoredMessage]], object] | None = None,
    ) -> list[StoredMessage]:
        """Claim and return up to ``limit`` available messages with ids above ``after``, in order.

        With ``ids``, claim and return those messages instead (those still
        stored). The claim (the mailbox's watermark) commits before this
        returns, in the same group commit as other writes. A store may call
        ``prepare`` once, on Trio's thread, with the list it will return,
        before the claim has committed (while the commit waits for the
        disk), so the caller decodes the messages meanwhile; it must not
        hand them to a handler before ``fetch`` returns.
        """


class Receipt(Protocol):
    """How a delivering store's message is settled (a JetStream message's ack methods)."""

    def ack_nowait(self) -> None:
        """Done: never deliver it again."""

    def nak_nowait(self, *, delay: float | None = None) -> None:
        """Deliver it again, after ``delay`` seconds (the delivery counts)."""

    def term_nowait(self, *, reason: str | None = None) -> None:
        """Never deliver it again (it was moved elsewhere)."""


class Received(NamedTuple):
    """A message as a delivering store hands it over: one delivery of it."""

    id: int
    """Its sequence in the mailbox (the same for every delivery of it)."""
    type_name: str
    """The message type's stable name."""
    payload: bytes
    """The encoded message."""
    msg_id: str | None
    """The sender's message id, if it gave one."""
    deliveries: int
    """Deliveries of it so far, this one included (the store counts them)."""
    enqueued_at: float
    """When it was stored (wall-clock seconds)."""
    ask: str | None
    """The token of the ``ask`` waiting for it, if one was made in this process."""
    receipt: Receipt
    """How to settle this delivery."""


class Feed(Protocol):
    """A delivering store's long-poll for one mailbox: the consumer says how many it wants."""

    @property
    def requested(self) -> int:
        """Messages asked for that have not come yet (0 after a lost or ended poll)."""

    def pull(self, batch: int) -> None:
        """Ask for ``batch`` more messages; each goes to the feed's callback as it comes."""

    def wake(self) -> None:
        """Wake a task in ``wait()``."""

    async def wait(self) -> None:
        """Wait until something changed (a message, an ended or lost poll, ``wake()``)."""

    def close(self) -> None:
        """Stop (what was handed over and not settled is redelivered by the store)."""


class DeliveringStore(Store, Protocol):
    """A broker that pushes messages and redelivers them itself (JetStream); ``redelivers`` is True.

    The mailbox keeps no timers and no claims: a nack carries its delay to
    the store, the store counts deliveries (``Received.deliveries``), and a
    message whose ack does not come in time (its process died) is delivered
    again, to this consumer or to another one of the same mailbox.
    """

    async def open_feed(
        self, mailbox: str, options: object, deliver: Callable[[Received], object]
    ) -> Feed:
        """Make ``mailbox`` ready for a consumer and return its feed (``options``: its ``Durable``).

        ``deliver`` is called with each message as it arrives, from a task of
        the store's, and must not block.
        """

    def check_tell(
        self, mailbox: str, type_name: str, payload: bytes, msg_id: str | None, asks: bool
    ) -> None:
        """Raise ``StoreRefused`` for a tell the store would never take, before it is staged.

        Called for each message a sender tells (not a handler's sends, which
        commit or fail with their run), with whether an ``ask`` waits for it:
        a tell refused here is refused alone, not with the batch it would
        share with other tells.
        """

    def depth(self, mailbox: str) -> int | None:
        """``mailbox``'s messages stored and not settled, as far as the store knows, or None.

        What the mailbox's ``len()`` shows (trees, the live view, metrics):
        called often and maybe from another thread, so it never waits and
        does no I/O (a figure the store keeps, read again in its own time).
        None while the store has no figure for the mailbox.
        """

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
        """Move ``message`` to the dead-letter queue in ``batch`` (its receipt settled after it)."""


def decoded(
    record: DeadLetterRecord, codec: MessageCodec, *, unknown_type_hint: str = ""
) -> DeadLetterRecord:
    """``record`` with its message decoded by ``codec``, or with why it could not be.

    Used by every store's ``dead_letters`` (and the command line): a message
    that does not decode is listed with ``message`` None and ``decode_error``
    saying why, never silently; nothing the codec raises (an ``Exception``)
    escapes. ``unknown_type_hint`` is added to the reason of a type name
    that no class is registered under (the command line's advice to import
    the module that registers it).
    """
    try:
        message = codec.decode(record.type_name, record.payload)
    except Exception as error:
        reason = _decode_error(record, codec, error)
        if isinstance(error, UnknownMessageType):
            reason += unknown_type_hint
        return attrs.evolve(record, message=None, decode_error=reason)
    return attrs.evolve(record, message=message, decode_error=None)


def _decode_error(record: DeadLetterRecord, codec: MessageCodec, error: Exception) -> str:
    """The one-line reason a dead letter's payload did not decode with ``codec``."""
    if not isinstance(error, UndecodableMessage):  # another codec's error: say which
        return f"cannot decode {record.type_name!r}: {describe(error)}"
    try:
        text = str(error)
    except Exception:  # a text that cannot be made must not break the listing
        text = describe(error)
    # Only a plain Codec: the one a runtime binds (a subclass, or one given a resolver, it keeps).
    if isinstance(error, UnresolvableRef) and type(codec) is Codec and codec.resolver is None:
        text += _NO_RUNTIME
    return text


def copy_failure(failure: BaseException) -> StoreFailed:
    """A fresh ``StoreFailed`` with the args and cause of ``failure``, for one more raise.

    Every store and queue raises a copy of the one failure it keeps, so that
    no two raises share (and grow) one traceback.
    """
    copy = StoreFailed(*failure.args)
    copy.__cause__ = failure.__cause__
    return copy


def run_failure_callbacks(
    batch: WriteBatch, store: str, error: Callable[[], BaseException]
) -> None:
    """Run ``batch``'s ``after_failure`` callbacks, each with ``error()``, for a store's commit.

    Used by every store when a batch's commit fails: a callback that raises
    is logged, and the others still run.
    """
    for callback in batch.failure_callbacks():
        try:
            callback(error())
        except Exception:
            log.exception("durable store %s: a failure callback raised", store)


def checked_redrive_target(to: object) -> str | None:
    """Check ``redrive``'s ``to`` before any store sees it: None, or a name an actor could have.

    A durable mailbox is named by its actor (``spawn(..., name=...)``), so a
    target no actor could have would keep its messages for good, unread.

    Raises:
        TypeError: ``to`` is not a string (nor None).
        ValueError: it could name no actor (empty, with ``/`` or whitespace...).
    """
    if to is None:
        return None
    if not isinstance(to, str):
        raise TypeError(f"to is a durable mailbox's name or None, not {to!r}")
    return check_name(to, "the mailbox to redrive to")


def checked_dead_letter_choice(
    mailbox: object, ids: object
) -> tuple[str | None, tuple[int, ...] | None]:
    """Check a ``redrive`` / ``discard`` choice before any store sees it; return it as a tuple.

    Raises:
        TypeError: ``mailbox`` is not a name (or None), or ``ids`` is not a
            sequence of dead-letter ids (ints; a string is refused, not read
            character by character).
    """
    if mailbox is not None and not isinstance(mailbox, str):
        raise TypeError(f"mailbox is a durable mailbox's name or None, not {mailbox!r}")
    if ids is None:
        return mailbox, None
    if isinstance(ids, (str, bytes, bytearray)) or not isinstance(ids, Sequence | set | frozenset):
        raise TypeError(f"ids is a sequence of dead-letter ids (ints), not {ids!r}")
    chosen = tuple(ids)
    for value in chosen:
        if type(value) is not int:
            raise TypeError(f"ids holds dead-letter ids (ints); {value!r} is not one")
    return mailbox, chosen
