"""The durable mailbox core: a mailbox whose messages live in a store until handled.

Theory of operation
-------------------
A ``DurableQueue`` is what a cell consumes, like the engine's ``MemoryMailbox``
(it implements ``trouper.runtime.lowlevel.Mailbox``): the cell ``popleft``s
from ``items``, registers itself and parks when it is empty, opens each item
(``open_item``) and calls ``settle(item, ending, error)`` once for every
message it took, saying how it ended. Each item is a ``Delivery``: the
decoded message and its delivery facts (id, msg_id, attempt).

Putting: ``put_nowait`` encodes the message and stages an append in the
queue's open batch for the next group commit; ``put`` waits for room, stages
it the same way, then waits until that batch is durable. Room is the
capacity (in messages) minus the messages stored and the appends staged;
acks and dead-letter moves make room when they are staged. What is put may
be a bare message, the engine's ``WithMsgId`` (deduplicated) or an ``Ask``
(its message is stored, the ask waits in memory as the delivery's
``companion``: the reply is at most once).

Handing over: messages reach ``items`` two ways, and ``_claimed`` (a mirror
of the mailbox's committed claim watermark) is always at least the id of
anything handed over, so that after a crash the store knows what may have
been in progress.

- Live: while nothing stored is left unread and the prefetch window has
  room, an append is staged with ``claim=True``: its commit also raises the
  watermark, and right after the commit the message (already decoded: the
  sender's object) goes to ``items`` without reading it back.
- Fetch: otherwise appends stay on disk (the queue is "spilled") and the
  serving task fetches the next ones in id order, a window at a time, each
  fetch claiming what it returns in the same group commit as other writes.
  The store hands the window over early (``prepare``) so that it is decoded
  while that commit is on its way to the disk; it goes to ``items`` after.
  When a fetch comes back short and no unclaimed append was staged since it
  was issued, everything stored has been read: the queue is live again.

Settling: ``HANDLED`` stages the ack with the handler's staged sends (the
delivery is the engine's ``Transaction``: sends to durable mailboxes on the
same store are appended in the ack's batch, the others are released once it
commits) and the actor's new state, in one batch (one transaction).
``FAILED`` with ``Retry`` or an error stages a nack and arms a timer on
Trio's clock for the redelivery (recorded in the store before it is handed
over, so that recovery charges a message running at a crash, not one that
was waiting out its backoff); at ``max_deliveries`` (or with ``GiveUp``,
or a payload that cannot be decoded) the message moves to the dead-letter
queue instead. ``RETURNED`` puts it back at the front, uncounted. A
delivery taken before a ``close`` (of an older generation) settles only its
stored message: handled, it is acked, making room once whatever the order
of that ack and the reopened mailbox's opening (reads of the store hold
such acks back until they return); otherwise it stays stored as it is.
Once the store has failed, nothing more is written, and ``Retry`` and
``GiveUp`` are still not failures of the actor; the asks of messages no
handler has started get the store's failure.

Recovery: when the store says the mailbox stopped uncleanly, the serving
task hands out the suspects one at a time through ``next_suspect`` (each
delivery committed before its handler runs) and nothing else until they are
all settled; one that used its deliveries up is dead-lettered instead, by the
queue, which counts its room and reports it (see docs/durable.md).
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import sys
import traceback
import typing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from random import Random
from typing import TYPE_CHECKING, ClassVar, Protocol

import attrs
import outcome
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from trouper._groups import single_leaf
from trouper.actors import Exited, Terminated
from trouper.durable._backoff import (
    ExponentialJitter,
    RetryBackoff,
    check_delays,
    is_seconds,
    retry_delay,
)
from trouper.durable._clock import wall_now
from trouper.durable._store import (
    Append,
    PolledStore,
    Store,
    StoredMessage,
    TellBatch,
    WriteBatch,
    copy_failure,
)
from trouper.errors import (
    ActorStopped,
    HandlerError,
    StoreFailed,
    StoreRefused,
    UndecodableMessage,
)
from trouper.runtime.lowlevel import Ask, MailboxEnding, WithMsgId, current_cell

if TYPE_CHECKING:
    from trouper.actors import Actor, Address
    from trouper.runtime.lowlevel import Cell, Consumer

__all__ = [
    "Delivery",
    "Durable",
    "DurableQueue",
    "EncodedMessage",
    "GiveUp",
    "MessageCodec",
    "Retry",
]

log = logging.getLogger("trouper")


_HANDLED = MailboxEnding.HANDLED
_FAILED = MailboxEnding.FAILED


def _is_count(value: object) -> bool:
    """Whether ``value`` is an int >= 1 (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _backoff(value: object) -> RetryBackoff:
    if isinstance(value, ExponentialJitter):
        return value
    if isinstance(value, (list, tuple)):
        check_delays(value)
        return tuple(float(delay) for delay in value)
    raise TypeError(f"backoff must be an ExponentialJitter or a sequence of delays, got {value!r}")


@attrs.frozen(kw_only=True)
class Durable:
    """A durable mailbox on the runtime's store: ``spawn(..., mailbox=Durable())``.

    A mailbox factory (``trouper.runtime.lowlevel.MailboxFactory``): each actor
    spawned with it gets a mailbox kept in ``rt.store`` under the actor's
    name, which must be chosen (``name=...``): it is the mailbox's identity
    across processes. An actor class may make it its default
    (``default_mailbox = Durable()``). The fields say how messages are
    delivered: retries and their backoff, capacity, prefetch, deduplication.
    A spawn's ``mailbox_size`` does not apply; ``capacity`` does.
    """

    max_deliveries: int = attrs.field(default=10)
    """Deliveries that may fail (error or crash) before the message is dead-lettered."""
    backoff: RetryBackoff = attrs.field(default=ExponentialJitter(), converter=_backoff)
    """Waits between failed deliveries: ``ExponentialJitter(...)`` or explicit delays."""
    capacity: int = attrs.field(default=100_000)
    """Messages the mailbox may hold (``tell`` waits, ``tell_nowait`` refuses, beyond)."""
    prefetch: int = attrs.field(default=512)
    """Messages held in memory, ready or being handled (RabbitMQ's prefetch count).

    A bigger window keeps a busy consumer supplied while the next one is
    fetched (measured: 100 gives a third less throughput than 512); after a
    crash, up to this many messages are suspects, handed out one at a time.
    """
    dedup_window: float | None = attrs.field(default=120.0)
    """Seconds a ``msg_id`` is remembered to drop duplicates; ``None`` remembers for good."""

    @max_deliveries.validator
    def _check_max_deliveries(self, _attribute: object, value: int) -> None:
        if not _is_count(value):
            raise ValueError(f"max_deliveries must be an int >= 1, got {value!r}")

    @capacity.validator
    def _check_capacity(self, _attribute: object, value: int) -> None:
        if not _is_count(value):
            raise ValueError(f"capacity must be an int >= 1, got {value!r}")

    @prefetch.validator
    def _check_prefetch(self, _attribute: object, value: int) -> None:
        if not _is_count(value):
            raise ValueError(f"prefetch must be an int >= 1, got {value!r}")

    @dedup_window.validator
    def _check_dedup_window(self, _attribute: object, value: float | None) -> None:
        if value is not None and not is_seconds(value):
            raise ValueError(f"dedup_window must be None or a finite number >= 0, got {value!r}")

    def open_mailbox(self, runtime: object, name: str | None, size: float) -> DurableQueue:
        """Open the durable mailbox of actor ``name`` on ``runtime.store`` (the engine calls it).

        Raises:
            ValueError: ``name`` is None (an unnamed actor has no stable identity)
                or a living actor consumes that mailbox already.
            RuntimeError: the runtime has no store.
        """
        from trouper.durable._actors import open_actor_mailbox  # the layer over the engine

        return open_actor_mailbox(self, runtime, name)


class Retry(Exception):
    """Raised by a handler: deliver this message again after ``after`` seconds.

    The delivery is recorded (the next one has the next attempt number) but it
    does not count toward ``max_deliveries``, and the actor did not fail: it
    goes on with the next message, its supervisor is not told, and an ``ask``
    waiting for the message waits for the redelivery. Raised in a nursery (by
    one of its tasks, or its body), it reaches the handler's caller in an
    exception group: a group holding only it still means ``Retry`` (one that
    holds other exceptions too is a failure), and so for ``GiveUp``.
    """

    def __init__(self, after: float) -> None:
        if not is_seconds(after):
            raise ValueError(f"after must be a finite number >= 0, got {after!r}")
        super().__init__(after)

    @property
    def after(self) -> float:
        """Seconds until the redelivery."""
        return self.args[0]  # type: ignore[no-any-return]


class GiveUp(Exception):
    """Raised by a handler: move this message to the dead-letter queue now, with ``reason``.

    Like ``Retry``, a decision about the message, not a failure of the actor:
    it goes on with the next message and its supervisor is not told; an
    ``ask`` waiting for the message gets ``HandlerError``. Named for what the
    handler does with the message; ``Reject`` answers an ``ask`` with an
    error, and ``DeadLetter`` is the runtime's record of an undeliverable
    message.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)

    @property
    def reason(self) -> str:
        """Why the message cannot be handled (stored as the dead letter's reason)."""
        return self.args[0]  # type: ignore[no-any-return]


class EncodedMessage(Protocol):
    """A message as bytes with its type's stable name (``trouper.codec.Encoded``)."""

    @property
    def type_name(self) -> str:
        """The message type's stable name."""

    @property
    def payload(self) -> bytes:
        """The message's bytes."""


class MessageCodec(Protocol):
    """Turns messages into bytes with a type name and back (``trouper.codec.Codec`` does)."""

    def encode(self, message: object) -> EncodedMessage:
        """Return the message's stable type name and its bytes."""

    def decode(self, type_name: str, payload: bytes) -> object:
        """Return the message stored as ``type_name`` and ``payload``; raise if it cannot."""


def _bad_msg_id(msg_id: object) -> typing.NoReturn:
    """Refuse a msg_id that is not a str (an int would match its str, a tuple fail the store)."""
    raise TypeError(f"msg_id must be a str, got {msg_id!r}")


def _bad_payload(payload: object) -> typing.NoReturn:
    """Refuse a codec's payload that is not bytes.

    A handler's send checks at once (the send fails): found when the ack is
    staged, it would raise after the ack and the sends before it were
    staged, which would commit without it.
    """
    raise TypeError(f"payload must be bytes, got {type(payload).__name__}")


def _unwrap(item: object) -> tuple[object, str | None, Ask | None]:
    cls = type(item)
    if cls is WithMsgId:
        with_id = typing.cast(WithMsgId, item)
        return with_id.message, with_id.msg_id, None
    if cls is Ask:
        ask = typing.cast(Ask, item)
        return ask.message, None, ask
    return item, None, None


class Delivery:
    """One delivery of a stored message: what a cell takes from a durable mailbox's ``items``.

    ``self.ctx.delivery`` in a handler. ``id``, ``msg_id``, ``attempt`` and
    ``redelivered`` are the delivery facts a handler may read. While the
    handler runs, the engine stages its sends here (``stage``: the delivery
    is the engine's ``Transaction``); they commit with the ack, with the
    actor's new state, or are dropped if the handler fails.
    """

    __slots__ = (
        "_after",
        "_delivered_at",
        "_encoded",
        "_first",
        "_generation",
        "_queue",
        "_retries",
        "_sends",
        "_state",
        "attempt",
        "companion",
        "id",
        "message",
        "msg_id",
    )

    def __init__(
        self,
        queue: DurableQueue,
        message: object,
        delivery_id: int,
        msg_id: str | None,
        attempt: int,
        retries: int,
        first_delivered_at: float | None,
        companion: Ask | None,
        generation: int,
        encoded: EncodedMessage,
    ) -> None:
        # The queue it came from (the store its sends must share to join the ack).
        self._queue = queue
        # The decoded message.
        self.message = message
        # The delivery id (the store's row id).
        self.id = delivery_id
        # The sender's message id, if it gave one.
        self.msg_id = msg_id
        # This delivery's number: 1 for the first.
        self.attempt = attempt
        # The ask waiting for the reply, or None; lost with the process, so a
        # durable ask's reply is at most once.
        self.companion = companion
        # Deliveries of this message that ended with Retry (not failures).
        self._retries = retries
        # When it was first delivered (wall seconds), if an earlier delivery was.
        self._first = first_delivered_at
        # When this delivery was handed over (Trio's clock), set by the hand-over.
        self._delivered_at = 0.0
        # The queue's generation when handed over; an older one only settles in the store.
        self._generation = generation
        # The message as stored (the record or row it came from: kept, not copied): a
        # redelivery decodes the message again from it, so it is the message as stored,
        # whatever a run changed in it.
        self._encoded = encoded
        # (target queue, message, encoded, msg_id) appended with the ack.
        self._sends: list[tuple[DurableQueue, object, EncodedMessage, str | None]] | None = None
        # Callbacks run once the ack has committed (the outbox).
        self._after: list[Callable[[], object]] | None = None
        # (key, data) saved with the ack, or None.
        self._state: tuple[str | None, bytes] | None = None

    def __repr__(self) -> str:
        return f"<Delivery {self.id} attempt {self.attempt} of {self.message!r}>"

    @property
    def redelivered(self) -> bool:
        """Whether an earlier delivery of this message was recorded (``attempt > 1``)."""
        return self.attempt > 1

    def stage(
        self, target: object, message: object, msg_id: str | None, release: Callable[[], None]
    ) -> None:
        """Take a send of the running handler (the engine calls this: ``Transaction``).

        To a durable mailbox on the same store: encoded now (an unencodable
        message fails the handler) and appended in the ack's transaction.
        To anything else: ``release()`` runs once the ack has committed.
        """
        if isinstance(target, DurableQueue) and target.store is self._queue.store:
            # ``send``, inline (once per message a transactional handler sends).
            if msg_id is not None and type(msg_id) is not str:
                _bad_msg_id(msg_id)  # here, failing the handler: not at the ack
            encoded = target._codec.encode(message)
            if type(encoded.payload) is not bytes:
                _bad_payload(encoded.payload)  # here, failing the handler: not at the ack
            if self._sends is None:
                self._sends = []
            self._sends.append((target, message, encoded, msg_id))
        else:
            self.after_commit(release)

    def send(self, target: DurableQueue, message: object, msg_id: str | None = None) -> None:
        """Stage ``message`` for ``target``: appended in the same transaction as this ack.

        Raises:
            ValueError: ``target`` is on another store (its append could not
                commit with this ack).
            TypeError: ``msg_id`` is not a str, or the codec's payload is not bytes.
            UnregisteredMessageType, UnencodableMessage: the codec cannot encode it.
        """
        if msg_id is not None and type(msg_id) is not str:
            _bad_msg_id(msg_id)
        if target.store is not self._queue.store:
            raise ValueError(
                f"{target.name!r} is on another store: a delivery's sends commit with its ack, "
                "in its own store"
            )
        encoded = target.encode(message)
        if type(encoded.payload) is not bytes:
            _bad_payload(encoded.payload)
        if self._sends is None:
            self._sends = []
        self._sends.append((target, message, encoded, msg_id))

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once the ack has committed (in-memory sends: an outbox)."""
        if self._after is None:
            self._after = []
        self._after.append(callback)

    def save_state(self, data: bytes, key: str | None = None) -> None:
        """Save ``data`` as the actor's state (under ``key``, default the mailbox) with the ack.

        Raises:
            TypeError: ``data`` is not bytes, or ``key`` not a str (refused here,
                in the handler: at the ack they would fail it, or the store).
        """
        if type(data) is not bytes:
            raise TypeError(f"state data must be bytes, got {type(data).__name__}")
        if key is not None and type(key) is not str:
            raise TypeError(f"key must be a str or None, got {key!r}")
        self._state = (key, data)


class _Put(Append):
    """An append made through a queue: what it needs back once the append has committed."""

    __slots__ = ("companion", "generation", "message", "queue")

    def __init__(
        self,
        queue: DurableQueue,
        payload: bytes,
        type_name: str,
        msg_id: str | None,
        dedup_until: float | None,
        message: object,
        companion: Ask | None,
        claim: bool,
    ) -> None:
        # Append's fields, set here rather than through Append.__init__ (the hot
        # path). ``claim``: handed over as soon as it commits. Counted in the
        # queue's ``_reserved`` until it commits.
        self.mailbox = queue.name
        self.type_name = type_name
        self.payload = payload
        self.msg_id = msg_id
        self.dedup_until = dedup_until
        self.claim = claim
        self.hint = None
        self.id = 0
        self.accepted = False
        # The queue that staged it (its counters change when it commits).
        self.queue = queue
        # The message as put (handed over as is, never decoded again).
        self.message = message
        # The ask waiting for the reply, or None.
        self.companion = companion
        # The queue's generation when staged (a close makes it stale).
        self.generation = queue._generation


def _ignore(_: object) -> None:
    pass


class DurableQueue:
    """A durable mailbox: the engine's ``Mailbox`` protocol, backed by a ``Store``.

    Start ``serve`` in a nursery (``await nursery.start(queue.serve)``) before
    the cell consumes; it attaches to the store, recovers after an unclean
    stop, fetches and runs the redelivery timers. Everything else is called
    from Trio's thread by the cell and by senders. ``Durable(...)`` opens one
    per durable actor, served by the runtime; tests and tools may make one
    on a store directly.

    ``codec`` turns messages into bytes; ``random`` drives the backoff's
    jitter (seed it to replay); ``on_dead_letter(delivery, reason, error)``
    is called once a message's move to the dead-letter queue commits;
    ``on_refused(message, error)`` once the store refused a message put here
    alone (``TellBatch``: an awaited ``put`` raises the error too, an ask's
    asker gets it); ``on_failure(error)`` once if the store fails.
    """

    settles: ClassVar[bool] = True
    durable: ClassVar[bool] = True

    def __init__(
        self,
        store: Store,
        name: str,
        codec: MessageCodec,
        options: Durable | None = None,
        *,
        random: Random | None = None,
        on_dead_letter: Callable[[Delivery, str, BaseException | None], object] | None = None,
        on_failure: Callable[[BaseException], object] | None = None,
        on_refused: Callable[[object, StoreRefused], object] | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a durable mailbox's name must be a str, got {name!r}")
        if not name:
            raise ValueError("a durable mailbox needs a name (its identity in the store)")
        if options is not None and not isinstance(options, Durable):
            raise TypeError(f"options must be a trouper.durable.Durable, got {options!r}")
        # The store the messages live in.
        self.store = store
        # The same store as a polled one (the SQLite path reads through it;
        # a ServedQueue, for a store that redelivers itself, never does).
        self._polled = typing.cast(PolledStore, store)
        # The mailbox's name in the store (the durable actor's name).
        self.name = name
        # Delivery options.
        self.options = options or Durable()
        # The capacity in messages (the engine's ``Mailbox.size``).
        self.size: float = self.options.capacity
        self._codec = codec
        self._random = random or Random()
        self._on_dead_letter = on_dead_letter
        self._on_failure = on_failure or _ignore
        self._on_refused = on_refused or self._log_refused
        # Deliveries ready to handle, and system notices, in order (the cell pops).
        self.items: deque[object] = deque()
        # Whether puts are refused (the actor stopped); the rows stay stored.
        self.closed = False
        # Where the actor lives, once a cell is attached (asks fail with it).
        self.address: Address | None = None
        # Parked consumers (cells), woken one per arrival.
        self._consumers: dict[Consumer, None] = {}
        # Parked senders waiting for room, in arrival order (truthy while any
        # waits: the consumer then calls ``admit``).
        self.producers: dict[Task, None] = {}
        # Bumped by close: deliveries of an older generation only settle in the store.
        self._generation = 0
        # Deliveries of older generations (being handled when the queue was
        # closed) not settled yet: how many, by id. Their acks delete rows
        # the current generation may have counted in ``_depth``.
        self._stale: dict[int, int] = {}
        # Those of ``_stale`` whose row is deleted, or its deletion staged
        # (by any generation): an ack of theirs makes no more room.
        self._stale_gone: set[int] = set()
        # Whether the serving task waits for a read of the store (an opening,
        # a fetch); while it does, stale acks wait in ``_deferred``: whether
        # the read saw their row would be unknown.
        self._reading = False
        # Stale deliveries handled while a read was on its way, to ack after it.
        self._deferred: list[Delivery] = []
        # Ids a stale ack counted out in this generation: never handed over
        # again, though a fetch may return them (fetches go first in a group
        # commit, so one may commit before that ack).
        self._counted_out: set[int] = set()
        # Messages stored (committed), less the acks and dead-letter moves staged.
        self._depth = 0
        # While the mailbox is being opened, the ids of the appends heard since
        # (the opening counts those up to its ``last_id``); None otherwise.
        self._heard: list[int] | None = None
        # Appends staged through this queue and not yet committed.
        self._reserved = 0
        # Deliveries handed to ``items`` and not yet settled.
        self._outstanding = 0
        # Claimed appends staged and not yet committed (they fill the window).
        self._pending_claims = 0
        # True when every stored message of the mailbox is in memory or settled,
        # so new appends may be handed over at commit.
        self._live = False
        # Counts unclaimed appends (staged here, or committed by others); a
        # fetch that saw the current count and came back short ends a spill.
        self._unread = 0
        # The highest id fetched or handed over; fetches continue above it.
        self._cursor = 0
        # The lowest id above the cursor that may be stored and not read yet
        # (0: none): a claimed append above it is read back, not handed over.
        self._behind = 0
        # Mirror of the committed claim watermark: every handed-over id is <= it.
        self._claimed = 0
        # Ids held in memory (items, being handled, or waiting for redelivery).
        self._known: set[int] = set()
        # Redeliveries: (Trio deadline, sequence, id, delivery or None to re-read).
        self._timers: list[tuple[float, int, int, Delivery | None]] = []
        self._sequence = 0
        # Redeliveries whose timers fired, while their hand-out is being recorded
        # (``_mark_redelivered``): held as timers are, until handed over.
        self._firing: list[Delivery] = []
        # Companions of appends not handed over at commit (asks, by id).
        self._companions: dict[int, Ask] = {}
        # The batch being filled for the next commit (None or sealed: start another):
        # tells, acks without sends, nacks, dead-letter moves (a ``TellBatch``).
        self._batch: WriteBatch | None = None
        # The batch being filled with the acks of handlers that sent messages, their
        # sends and states: the store may not refuse a send alone (None or sealed).
        self._transactions: WriteBatch | None = None
        # The batch acks without sends join (None or sealed: see ``_ack_batch``):
        # ``_transactions`` while it is open, else the open ``_batch``.
        self._acking: WriteBatch | None = None
        # Last state saved or loaded, and whether it is known.
        self._state: bytes | None = None
        self._state_known = False
        # Whether suspects of an unclean stop are being handed out one at a time.
        self._recovering = False
        # The suspect being handled (nothing else is handed out meanwhile).
        self._suspect: Delivery | None = None
        # The last settled suspect, the next ``next_suspect`` starts after it.
        self._after_suspect: int | None = None
        # Whether the serving task must (re)attach: at start and after reopen.
        self._attach_needed = True
        # Whether the serving task should stop (``aclose``).
        self._detached = False
        # Whether the store failed or closed under the serving task (it then idles).
        self._halted = False
        # Set to wake the serving task.
        self._kicked = trio.Event()
        # The store's failure, once it failed.
        self._failure: BaseException | None = None
        # Whether the actor has durable state (``_state_data`` is asked after each ack).
        self._stateful = False
        # At or below this many outstanding deliveries, the next window is fetched.
        self._refill = self.options.prefetch // 2
        # The fetch in progress's messages decoded early (``_prepare``), one
        # Delivery per row or None where it did not decode; None if not yet.
        self._prepared: list[Delivery | None] | None = None
        # Set once ``serve`` has returned (None while it never ran): a queue
        # that replaces this one opens the mailbox only after that.
        self._served: trio.Event | None = None
        # The closed queue this one replaces (same store and name), if any.
        self._predecessor: DurableQueue | None = None
        # Whether claimed appends were staged and not committed when the queue
        # closed: the serving task clears the claims again once they have.
        self._late_claims = False

    def __repr__(self) -> str:
        return f"<DurableQueue {self.name!r} depth {self._depth + self._reserved}>"

    def __len__(self) -> int:
        """The mailbox's depth: its messages stored or staged and not settled (``depth``).

        What the engine's trees and metrics show. It counts the messages not
        fetched yet, those in the prefetch window, the one being handled and
        those waiting for a redelivery, from counters kept as appends commit
        and settlements are staged (no read of the store): once ``flush``
        has returned it is the store's ``MailboxStatistics.depth``. System
        notices waiting in ``items`` are not messages of the mailbox.
        """
        return self._depth + self._reserved

    # --- what senders call ---------------------------------------------------

    @property
    def depth(self) -> int:
        """Messages stored or staged for this mailbox (what ``capacity`` bounds)."""
        return self._depth + self._reserved

    @property
    def full(self) -> bool:
        """Whether a ``put_nowait`` would be refused for room."""
        return self._depth + self._reserved >= self.options.capacity

    def encode(self, message: object) -> EncodedMessage:
        """Encode ``message`` with this mailbox's codec (raises what the codec raises)."""
        return self._codec.encode(message)

    def _check(self) -> None:
        if self._failure is not None:
            raise copy_failure(self._failure)

    def _changes_own_state(self, item: Delivery) -> bool:
        """Whether settling ``item`` would save this mailbox's own state.

        A stale delivery that would is not acked: that state is the current
        generation's, so the message is handled again against it.
        """
        return self._stateful or (item._state is not None and item._state[0] is None)

    def _open_batch(self) -> WriteBatch:
        batch = self._batch
        if batch is None or batch.sealed:
            # Its appends are tells (a handler's sends go in ``_open_transactions``'s).
            self._batch = batch = TellBatch()
            self.store.stage(batch)
        return batch

    def _open_transactions(self) -> WriteBatch:
        """The batch for handlers' acks with their sends: they commit together or not at all."""
        batch = self._transactions
        if batch is None or batch.sealed:
            self._transactions = self._acking = batch = WriteBatch()
            self.store.stage(batch)
        return batch

    def _ack_batch(self, sends: bool) -> WriteBatch:
        """The batch for an ack (with its sends, state and outbox): the last one opened for acks.

        An ack without sends joins the open batch of acks with sends, if there
        is one (``_acking``), rather than a batch of tells staged after it:
        acks then commit in the order they were made, so the state saved is
        the last handler's (the last save of a key wins) and the outbox
        releases keep their order. Once that batch is sealed, the open batch
        of tells is newer than it, and takes them.
        """
        if sends:
            return self._open_transactions()
        batch = self._acking
        if batch is None or batch.sealed:
            batch = self._acking = self._open_batch()
        return batch

    def _stage_append(
        self,
        batch: WriteBatch,
        message: object,
        encoded: EncodedMessage,
        msg_id: str | None,
        companion: Ask | None,
    ) -> Append:
        """Stage ``message`` in ``batch``, counted in this queue; return its append."""
        if self.closed:
            # The actor stopped: the message is stored for its next incarnation.
            if msg_id is not None and type(msg_id) is not str:
                _bad_msg_id(msg_id)
            window = self.options.dedup_window
            return batch.append(
                self.name,
                encoded.type_name,
                encoded.payload,
                msg_id=msg_id,
                dedup_until=None if msg_id is None or window is None else wall_now() + window,
            )
        payload = encoded.payload
        if type(payload) is not bytes:
            _bad_payload(payload)
        dedup_until = None
        if msg_id is not None:
            if type(msg_id) is not str:
                _bad_msg_id(msg_id)  # before anything is counted (SQLite would fail the store)
            window = self.options.dedup_window
            if window is not None:
                dedup_until = wall_now() + window
        claim = self._live and self._outstanding + self._pending_claims < self.options.prefetch
        if claim:
            self._pending_claims += 1
        else:
            self._live = False
            self._unread += 1
        self._reserved += 1
        record = _Put(
            self, payload, encoded.type_name, msg_id, dedup_until, message, companion, claim
        )
        batch.appends.append(record)
        return record

    def put_nowait(self, item: object) -> bool:
        """Stage ``item`` for the next commit; return False if the mailbox is full or closed.

        It is durable once that commit is done (``await store.flush()`` waits
        for it). Raises what the codec raises for a message it cannot encode,
        and ``StoreFailed`` once the store has failed.
        """
        self._check()
        if self.closed or self.producers or self._depth + self._reserved >= self.size:
            return False
        cls = type(item)
        if cls is WithMsgId or cls is Ask:
            message, msg_id, companion = _unwrap(item)
            encoded = self._codec.encode(message)
            batch = self._open_batch()
            self._stage_append(batch, message, encoded, msg_id, companion)
            if companion is not None:
                # Nobody waits for this commit but its asker.
                batch.after_failure(_answer_failure(companion))
            return True
        encoded = self._codec.encode(item)
        self._stage_append(self._open_batch(), item, encoded, None, None)
        return True

    async def put(self, item: object) -> bool:
        """Wait for room, append ``item``, and return True once it is durable.

        Returns False if the mailbox is closed (nothing was put). If it closes
        while the put waits for room (its actor stopped), a message is stored
        all the same, beyond the capacity, for the actor's next incarnation,
        and an ask returns False (not stored). If cancelled while waiting for
        room, nothing was put; once the append is staged it completes even if
        cancelled meanwhile. A duplicate ``msg_id`` is dropped by the commit
        and still returns True. As the engine's in-memory mailbox, it checks
        for cancellation only where it waits for room: the sender (the cell's
        ``send``) checks just before.

        Raises:
            StoreRefused: the store refused this message alone (the other
                tells of its batch are stored); ``on_refused`` was told too.
            StoreFailed: the store failed; the item may not be stored.
            UnregisteredMessageType, UnencodableMessage: the codec cannot encode it.
        """
        if self._failure is not None:
            self._check()
        if self.closed:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return False
        cls = type(item)
        if cls is WithMsgId or cls is Ask:
            message, msg_id, companion = _unwrap(item)
            if msg_id is not None and type(msg_id) is not str:
                _bad_msg_id(msg_id)  # before waiting for room, which it would not use
        else:
            message, msg_id, companion = item, None, None
        encoded = self._codec.encode(message)
        if self.producers or self._depth + self._reserved >= self.size:
            task = current_task()
            self.producers[task] = None

            def abort(_: object) -> Abort:
                del self.producers[task]
                return Abort.SUCCEEDED

            # True: admitted with a reservation made for us. None: the mailbox
            # closed meanwhile (its actor stopped; see ``close``). False: closed,
            # and the message is not to be stored.
            admitted: bool | None = await wait_task_rescheduled(abort)
            if admitted is False:
                return False
            if admitted:
                self._reserved -= 1
            if admitted is None or self.closed:
                return await self._put_closed(message, encoded, msg_id, companion)
        batch = self._batch
        if batch is None or batch.sealed:
            # A batch of its own, staged as this task waits for it: a sender
            # alone starts its commit at once, and no committer task is woken
            # to find it started (``stage`` would wake one, as ``put_nowait``
            # needs). Filled first: nothing is staged if the append raises
            # (if the store has failed since the checks above, staging raises
            # and this queue, failed with it, takes nothing more).
            batch = TellBatch()
            record = self._stage_append(batch, message, encoded, msg_id, companion)
            self._batch = batch
            await self.store.stage_and_wait(batch)
        else:
            record = self._stage_append(batch, message, encoded, msg_id, companion)
            await self.store.durable(batch)
        if batch.refused is not None:
            _raise_if_refused(batch.refused, record)
        return True

    async def _put_closed(
        self, message: object, encoded: EncodedMessage, msg_id: str | None, companion: Ask | None
    ) -> bool:
        """``put`` for a sender let in, or waiting for room, when the mailbox closed.

        Its tell was made while the actor lived: the message is stored for the
        actor's next incarnation, beyond the capacity, as one told while the
        actor stops (``True`` once durable). An ask is refused (``False``: the
        cell fails it with ``ActorStopped``): the next incarnation could not
        answer it, and stored without it, it would wait for ever.
        """
        if companion is not None:
            return False
        batch = TellBatch()
        self._stage_append(batch, message, encoded, msg_id, None)
        try:
            await self.store.stage_and_wait(batch)
        except trio.ClosedResourceError:
            return False  # the runtime closed its store meanwhile: not stored
        return True

    def put_system(self, item: object) -> None:
        """Add ``item`` however full the mailbox is.

        A system notice (``Terminated``, ``Exited``) waits in memory only. Any
        other message (one released by a transaction's outbox, or moved here
        by a pool) is stored for the next commit, beyond the capacity.
        """
        cls = type(item)
        if cls is Terminated or cls is Exited:
            self.items.append(item)
            if self._consumers:
                self._wake_one()
            return
        self._check()
        message, msg_id, companion = _unwrap(item)
        batch = self._open_batch()
        self._stage_append(batch, message, self._codec.encode(message), msg_id, companion)
        if companion is not None:
            batch.after_failure(_answer_failure(companion))

    # --- what the cell calls ----------------------------------------------------

    def register(self, consumer: Consumer) -> None:
        """Have ``consumer`` (with a ``wake()`` method) woken by the next arrival."""
        self._consumers[consumer] = None

    def forget(self, consumer: Consumer) -> None:
        """Unregister a parked consumer woken by something else."""
        self._consumers.pop(consumer, None)

    def _wake_one(self) -> None:
        consumer = next(iter(self._consumers))
        del self._consumers[consumer]
        consumer.wake()

    def pass_wakeup(self) -> None:
        """Wake another parked consumer if items wait (a consumer left without taking)."""
        if self.items and self._consumers:
            self._wake_one()

    def admit(self) -> None:
        """Let parked senders in while there is room (room comes from settling, not taking)."""
        producers = self.producers
        capacity = self.options.capacity
        while producers and self._depth + self._reserved < capacity:
            task = next(iter(producers))
            del producers[task]
            self._reserved += 1
            reschedule(task, outcome.Value(True))

    def close(self) -> list[object]:
        """Refuse puts and drop what is held in memory; return what is not stored.

        The stored messages stay for the next incarnation (or a ``reopen``).
        Asks waiting for messages not yet handled fail with ``ActorStopped``
        (returned instead when no cell is attached, for the caller to fail);
        one whose message is still on its way to the store fails so once it
        is stored. The system notices that were waiting are returned. Parked
        senders' messages are stored for the next incarnation, beyond the
        capacity (their asks are refused: see ``put``).
        """
        if self.closed:
            return []
        self.closed = True
        self._generation += 1
        returned: list[object] = []
        asks: list[Ask] = []
        # What is held and not waiting in items or for a timer is being handled:
        # stale once this close is done (see ``_settle_stale``).
        taken = set(self._known)
        for item in self.items:
            if type(item) is Delivery:
                taken.discard(item.id)
                if item.companion is not None:
                    asks.append(item.companion)
            else:
                returned.append(item)
        asks.extend(self._companions.values())
        for delivery_id, delivery in self._redeliveries():
            taken.discard(delivery_id)
            if delivery is not None and delivery.companion is not None:
                asks.append(delivery.companion)
        stale = self._stale
        for delivery_id in taken:
            stale[delivery_id] = stale.get(delivery_id, 0) + 1
        if self._stale_gone:
            self._stale_gone.intersection_update(stale)  # the rest are held by no one now
        if self._pending_claims:
            # A handler's send claimed here commits in its ack's batch, which
            # a group commit may take after the one with the release below.
            self._late_claims = True
        self._reset_memory()
        for task in self.producers:
            # Their tells were made while the actor lived: stored for its next
            # incarnation (see ``_put_closed``), not dead letters in memory.
            reschedule(task, outcome.Value(None))
        self.producers.clear()
        self._turn_away(asks, returned)
        if self._failure is None and not self._detached:
            # If the store is gone, the next open finds the claims: an unclean stop.
            with contextlib.suppress(StoreFailed, trio.ClosedResourceError):
                self._open_batch().release(self.name)
        self._kicked.set()
        return returned

    def _turn_away(self, asks: list[Ask], returned: list[object]) -> None:
        """On close: fail ``asks`` with ``ActorStopped`` (or return them), senders get False."""
        if self.address is None:
            returned.extend(asks)
        else:
            for ask in asks:
                ask.settle(outcome.Error(ActorStopped(self.address)))
        for task in self.producers:
            reschedule(task, outcome.Value(False))
        self.producers.clear()

    def _redeliveries(self) -> Iterator[tuple[int, Delivery | None]]:
        """The messages waiting to be delivered again, by id, with the delivery held (or None).

        Those on a timer (None: to be read again), and those whose timer fired
        while their hand-out is being recorded (``_firing``).
        """
        for _, _, delivery_id, delivery in self._timers:
            yield delivery_id, delivery
        for delivery in self._firing:
            yield delivery.id, delivery

    def _reset_memory(self) -> None:
        self.items.clear()
        self._known.clear()
        self._timers.clear()
        self._firing = []
        self._companions.clear()
        self._outstanding = 0
        self._pending_claims = 0
        self._live = False
        self._cursor = 0
        self._behind = 0
        self._claimed = 0
        self._recovering = False
        self._suspect = None
        self._after_suspect = None
        self._counted_out.clear()

    def reopen(self) -> None:
        """Accept puts again and reload the mailbox from the store (a stopped child restarted)."""
        if not self.closed:
            return
        self.closed = False
        self._attach_needed = True
        self._kicked.set()

    def open_item(self, item: object) -> tuple[object, Ask | None, object]:
        """The message of ``item``, its waiting ask, and its delivery (``ctx.delivery``)."""
        if type(item) is Delivery:
            return item.message, item.companion, item
        return item, None, None

    def attach(self, cell: Cell) -> None:
        """Meet the cell that consumes this mailbox (asks then fail with its address)."""
        self.address = cell.address

    async def prepare(self, instance: Actor) -> None:
        """Nothing to prepare in the core (the actors' layer loads state here)."""

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        """Record how a taken item ended (once per item taken); return True to absorb a failure.

        ``HANDLED``: ack it, with the sends, callbacks and state staged on the
        delivery, in one transaction; if the actor's new state cannot be
        stored, raise why, having settled nothing (the cell then settles it
        ``FAILED`` with that error: a failure of the handler). ``FAILED``:
        with ``Retry``, redeliver after its delay (not counted, absorbed);
        with ``GiveUp``, dead-letter it now (absorbed, a waiting ask gets
        ``HandlerError``); with no error (no handler took it), dead-letter it
        now (``no handler for X``, posted once the move commits, as every
        dead letter); any other error counts a failure: redeliver after the
        backoff, or dead-letter it at
        ``max_deliveries`` (not absorbed). ``RETURNED``: put it back at the
        front of ``items``, uncounted. System notices need no settling.
        Once the store has failed or closed, nothing more is written: what
        was not acknowledged stays stored, and ``Retry`` and ``GiveUp`` are
        still absorbed (see ``_settle_unwritable``). A delivery taken before
        a ``close`` only settles its stored message (see ``_settle_stale``).
        """
        if type(item) is not Delivery:
            self._settle_notice(ending)
            return False
        if self._failure is not None or self._halted:
            return self._settle_unwritable(item, ending, error)
        if item._generation != self._generation:
            return self._settle_stale(item, ending, error)
        if ending is _HANDLED:
            # A state that cannot be stored raises to the cell, which then settles the
            # delivery as failed with that error: nothing of the handler commits.
            state = self._state_data() if self._stateful else None
            sends = item._sends
            batch = self._acking if sends is None else self._transactions
            if batch is None or batch.sealed:
                try:
                    batch = self._ack_batch(sends is not None)
                except (StoreFailed, trio.ClosedResourceError):
                    self._halted = True
                    return False
            batch.acks.append(item.id)
            if sends is not None:
                for target, message, encoded, msg_id in sends:
                    target._stage_append(batch, message, encoded, msg_id, None)
            if state is not None:
                batch.save_state(self.name, state)
                self._state, self._state_known = state, True
            if item._state is not None:
                key, data = item._state
                batch.save_state(self.name if key is None else key, data)
                if key is None:
                    self._state, self._state_known = data, True
            if item._after is not None:
                for callback in item._after:
                    batch.after_commit(callback)
            self._depth -= 1
            if self._stale and item.id in self._stale:
                self._stale_gone.add(item.id)
            if item is self._suspect or self.producers:
                self._settled(item, True)
            else:
                # ``_settled``'s common case, inline (once per message).
                self._known.discard(item.id)
                self._outstanding -= 1
                if not self._live and self._outstanding <= self._refill:
                    self._kicked.set()
            return False
        return self._settle_unhandled(item, ending, error)

    def _settle_unwritable(
        self, item: Delivery, ending: MailboxEnding, error: BaseException | None
    ) -> bool:
        """``settle`` once the store failed or closed: nothing is written, the message stays.

        ``Retry`` and ``GiveUp`` are decisions about the message, not failures
        of the actor, whether or not they can be recorded: absorbed (the
        supervisor is not told, the actor is not restarted against a store
        that cannot take anything), and an ask waiting for the message gets
        the store's failure, as no redelivery or dead letter will answer it.
        Any other error is a failure of the actor, as with a working store.
        """
        if ending is not _FAILED or _decision_of(error) is None:
            return False
        ask = item.companion
        if ask is not None:
            item.companion = None
            failure: BaseException
            if self._failure is not None:
                failure = copy_failure(self._failure)
            else:
                failure = trio.ClosedResourceError(f"{self.store!r} is closed")
            ask.settle(outcome.Error(failure))
        return True

    def _settle_stale(
        self, item: Delivery, ending: MailboxEnding, error: BaseException | None
    ) -> bool:
        """``settle`` for a delivery taken before a ``close``: its stored message, nothing else.

        Handled, it is acked with its sends (see ``_ack_stale``); otherwise
        it stays stored as it is, for the current generation to deliver (a
        nack or a dead-letter move could hit that generation's own delivery
        of it). The current generation's counters are not touched. ``Retry``
        and ``GiveUp`` are absorbed; a waiting ask fails with ``ActorStopped``
        (the message is not redelivered to it).
        """
        if ending is _HANDLED:
            if self._reading:
                self._deferred.append(item)
            else:
                self._ack_stale(item)
            return False
        self._stale_settled(item.id)
        if ending is not _FAILED or _decision_of(error) is None:
            return False
        ask = item.companion
        if ask is not None and self.address is not None:
            item.companion = None
            ask.settle(outcome.Error(ActorStopped(self.address)))
        return True

    def _ack_stale(self, item: Delivery) -> None:
        """Ack a stale handled delivery; count it out if the current generation counted it in.

        No read of the store is on its way (they defer these), so the ack
        commits after the last read returned: the current opening counted its
        row unless a deletion staged earlier (by any generation) removed it.
        Counted and held by no delivery now (which would count it out when
        settled), it is counted out here, and this generation never hands it
        over again (a later fetch may commit first and return it: fetches go
        first in a group commit). A delivery that changed the mailbox's own
        state stays stored: that state is the current generation's, so it is
        handled again against it.
        """
        delivery_id = item.id
        if self._changes_own_state(item):
            self._stale_settled(delivery_id)
            return
        if self._failure is not None or self._halted:
            self._stale_settled(delivery_id)
            return
        sends = item._sends
        try:
            batch = self._ack_batch(sends is not None)
        except (StoreFailed, trio.ClosedResourceError):
            self._halted = True
            self._stale_settled(delivery_id)
            return
        batch.acks.append(delivery_id)
        if sends is not None:
            for target, message, encoded, msg_id in sends:
                target._stage_append(batch, message, encoded, msg_id, None)
        if item._state is not None:
            key, data = item._state
            batch.save_state(self.name if key is None else key, data)
        if item._after is not None:
            for callback in item._after:
                batch.after_commit(callback)
        if delivery_id in self._stale and delivery_id not in self._stale_gone:
            self._stale_gone.add(delivery_id)
            if not (self.closed or self._attach_needed or self._holds(delivery_id)):
                self._depth -= 1
                self._counted_out.add(delivery_id)
                if self.producers:
                    self.admit()
        self._stale_settled(delivery_id)

    def _holds(self, delivery_id: int) -> bool:
        """Whether a delivery of ``delivery_id`` is held now (it counts it out when settled).

        A timer without a delivery (a message delayed at the opening) holds
        none: it reads the message back, and one gone by then is forgotten.
        """
        if delivery_id not in self._known:
            return False
        return not any(timer[2] == delivery_id and timer[3] is None for timer in self._timers)

    def _stale_settled(self, delivery_id: int) -> None:
        """One stale delivery of ``delivery_id`` is settled."""
        count = self._stale.get(delivery_id)
        if count is None:
            return
        if count > 1:
            self._stale[delivery_id] = count - 1
        else:
            del self._stale[delivery_id]
            if not self._holds(delivery_id):
                # Kept while the current generation holds a delivery of it: one
                # that turns stale in turn must not count out a row that the
                # next opening, after its deletion, did not count.
                self._stale_gone.discard(delivery_id)

    def _without_counted_out(
        self, rows: list[StoredMessage], prepared: list[Delivery | None] | None
    ) -> tuple[list[StoredMessage], list[Delivery | None] | None]:
        """``rows`` (and their ``prepared`` deliveries) but those a stale ack counted out."""
        counted_out = self._counted_out
        keep = [index for index, row in enumerate(rows) if row.id not in counted_out]
        if len(keep) == len(rows):
            return rows, prepared
        if prepared is not None and len(prepared) == len(rows):
            prepared = [prepared[index] for index in keep]
        else:
            prepared = None
        return [rows[index] for index in keep], prepared

    def _ack_deferred(self) -> None:
        """Ack the stale deliveries handled while a read was on its way (it has returned)."""
        deferred, self._deferred = self._deferred, []
        for item in deferred:
            self._ack_stale(item)

    def _settle_unhandled(
        self, item: Delivery, ending: MailboxEnding, error: BaseException | None
    ) -> bool:
        """``settle`` for a ``FAILED`` or ``RETURNED`` delivery (the same on every store)."""
        self._roll_back(item)
        try:
            if ending is _FAILED:
                return self._failed(item, error)
            if item._generation == self._generation and not self.closed:
                # Given back unhandled: what its interrupted run staged does not
                # commit (the next run stages its own; kept, the ack would send twice).
                item._sends = item._after = item._state = None
                item.message = self._as_stored(item)
                self.items.appendleft(item)
                if self._consumers:
                    self._wake_one()
            else:
                self._returned_stale(item)
        except (StoreFailed, trio.ClosedResourceError):
            self._halted = True
        return False

    def _returned_stale(self, item: Delivery) -> None:
        """A delivery of an older generation came back unhandled: it stays stored as it is."""

    def _as_stored(self, item: Delivery) -> object:
        """``item``'s message decoded again from its stored bytes, for its next delivery.

        A run may have changed the object it was given (a dict it popped a key
        from): the next one gets the message as stored, as it would after a
        restart. If its bytes do not decode here (a ref to another node, say),
        the object as it is.
        """
        encoded = item._encoded
        try:
            return self._codec.decode(encoded.type_name, encoded.payload)
        except Exception:
            return item.message

    def _failed(self, item: Delivery, error: BaseException | None) -> bool:
        now = wall_now()
        if error is None:
            self._bury(item, f"no handler for {type(item.message).__name__}", None)
            return False
        decision = _decision_of(error)
        if isinstance(decision, Retry):
            self._redeliver(item, decision.after, retries=item._retries + 1, now=now, keep_ask=True)
            return True
        if isinstance(decision, GiveUp):
            self._bury(item, f"gave up: {decision.reason}", decision)
            ask = item.companion
            cell = current_cell()
            address = self.address or (None if cell is None else cell.address)
            if ask is not None and address is not None:
                failure = HandlerError(address, f"gave up: {decision.reason}")
                failure.__cause__ = decision
                ask.settle(outcome.Error(failure))
            return True
        failures = item.attempt - item._retries
        if failures >= self.options.max_deliveries:
            self._bury(
                item,
                f"{_describe(error)} (max_deliveries {self.options.max_deliveries} reached)",
                error,
            )
        else:
            delay = retry_delay(self.options.backoff, failures, self._random)
            self._redeliver(item, delay, retries=item._retries, now=now, keep_ask=False)
        return False

    def _state_data(self) -> bytes | None:
        """The actor's state as bytes if it changed since last saved, else None (the layer's)."""
        return None

    def _roll_back(self, item: Delivery) -> None:
        """Forget what a failed or returned handler changed in memory (the actors' layer does)."""

    def _settle_notice(self, ending: MailboxEnding) -> None:
        """A notice (``Terminated``, ``Exited``) was handled: nothing to store (the layer's)."""

    def _settled(self, item: Delivery, current: bool) -> None:
        if not current:
            return
        self._known.discard(item.id)
        self._outstanding -= 1
        if self.producers:
            self.admit()
        if item is self._suspect:
            self._suspect = None
            self._after_suspect = item.id
            self._open_batch().settle_suspect(self.name)
            self._kicked.set()
        elif not self._live and self._outstanding <= self._refill:
            self._kicked.set()

    def _redeliver(
        self, item: Delivery, delay: float, *, retries: int, now: float, keep_ask: bool
    ) -> None:
        delivered = _wall(item._delivered_at)
        first = item._first if item._first is not None else delivered
        self._open_batch().nack(
            item.id,
            deliveries=item.attempt,
            retries=retries,
            available_at=now + delay,
            delivered_at=delivered,
            first_delivered_at=first,
        )
        if item._generation != self._generation:
            return
        self._outstanding -= 1
        if item is self._suspect:
            self._suspect = None
            self._after_suspect = item.id
            self._open_batch().settle_suspect(self.name)
        again = Delivery(
            self,
            self._as_stored(item),
            item.id,
            item.msg_id,
            item.attempt + 1,
            retries,
            first,
            item.companion if keep_ask else None,
            self._generation,
            item._encoded,
        )
        self._sequence += 1
        heapq.heappush(self._timers, (trio.current_time() + delay, self._sequence, item.id, again))
        self._kicked.set()

    def _bury(
        self, item: Delivery, reason: str, error: BaseException | None, *, notify: bool = True
    ) -> None:
        text, first, last = _dead_letter_facts(item, error)
        batch = self._open_batch()
        batch.dead_letter(
            item.id,
            reason=reason,
            traceback=text,
            deliveries=item.attempt,
            first_delivered_at=first,
            last_delivered_at=last,
        )
        if notify:
            self._notify_dead_letter(batch, item, reason, error)
        self._depth -= 1
        if self._stale and item.id in self._stale:
            self._stale_gone.add(item.id)
        self._settled(item, item._generation == self._generation)

    def _notify_dead_letter(
        self, batch: WriteBatch, item: Delivery, reason: str, error: BaseException | None
    ) -> None:
        """Call ``on_dead_letter`` once ``batch``, which dead-letters ``item``, is durable.

        With the message as stored (the dead letter's), not as a run left it.
        """
        if self._on_dead_letter is not None:
            on_dead_letter = self._on_dead_letter
            item.message = self._as_stored(item)
            batch.after_commit(lambda: on_dead_letter(item, reason, error))

    # --- state -------------------------------------------------------------------

    async def load_state(self) -> bytes | None:
        """Return the actor's state: the last one saved with an ack, or the stored one."""
        if not self._state_known:
            data = await self.store.load_state(self.name)
            if not self._state_known:
                self._state, self._state_known = data, True
        return self._state

    # --- what the store calls (MailboxListener) -------------------------------------

    def appended(self, appends: Sequence[Append]) -> None:
        """Hand over the claimed appends that just committed; note the others as unread."""
        unread = False
        generation = self._generation
        now = -1.0  # read from Trio's clock once, if something is handed over
        # Counted here, added to the queue's counters once after the loop.
        ours = claims = stored = 0
        for record in appends:
            if type(record) is _Put and record.queue is self:
                ours += 1
                claim = record.claim
                if record.generation != generation:
                    # Staged before a close, which zeroed ``_pending_claims``.
                    if record.accepted:
                        stored += 1
                        unread = True
                        if record.companion is not None:
                            self._turn_away_late(record)  # a refused one's is ``refused``'s
                    continue
                if claim:
                    claims += 1
                if not record.accepted:
                    continue
                stored += 1
                if claim and not self.closed and (self._behind == 0 or record.id < self._behind):
                    delivery_id = record.id
                    if delivery_id > self._claimed:
                        self._claimed = delivery_id
                    if delivery_id > self._cursor:
                        self._cursor = delivery_id
                    if now < 0:
                        now = trio.current_time()
                    self._hand_over(
                        Delivery(
                            self,
                            record.message,
                            delivery_id,
                            record.msg_id,
                            1,
                            0,
                            None,
                            record.companion,
                            generation,
                            record,
                        ),
                        now,
                    )
                    continue
                if record.companion is not None:
                    self._companions[record.id] = record.companion
                if claim:
                    # Stored above a message not read yet: read back after it, in
                    # order (handed over now, it would move the cursor past it).
                    self._unread += 1
                if self._behind == 0 or record.id < self._behind:
                    self._behind = record.id
                unread = True
                continue
            if type(record) is _Put and record.companion is not None:
                # Put through the queue this one replaced (its actor stopped, then was
                # spawned again, before the commit): that queue no longer hears the
                # store, so its late ask is answered here, as it would have been there.
                record.queue._turn_away_late(record)
            if not record.accepted:
                continue
            stored += 1
            self._unread += 1
            if self._behind == 0 or record.id < self._behind:
                self._behind = record.id
            unread = True
        self._reserved -= ours
        self._pending_claims -= claims
        self._depth += stored
        if stored and self._heard is not None:
            self._heard.extend(record.id for record in appends if record.accepted)
        if unread:
            self._live = False
            if self._outstanding <= self._refill:
                self._kicked.set()  # a window's worth may be fetched (else settling kicks)
        if self.producers:
            self.admit()

    def _turn_away_late(self, record: _Put) -> None:
        """Fail the ask of an append staged before a close, which could not see it.

        Its message is stored: the actor it was asked of stopped, so a later
        incarnation that does not know the ask delivers it, as after any stop
        (see ``close``).
        """
        ask = record.companion
        address = self._stopped_address()
        if ask is not None and address is not None:
            record.companion = None
            ask.settle(outcome.Error(ActorStopped(address)))

    def _stopped_address(self) -> Address | None:
        """The address a late ask's ``ActorStopped`` names: the actor's (a pool's, in the layer)."""
        return self.address

    def refused(self, refusals: Sequence[tuple[Append, StoreRefused]]) -> None:
        """Messages put here were refused alone: fail their asks, tell ``on_refused``.

        Their appends came to ``appended`` first, not ``accepted`` (their room
        is free again); an awaited ``put`` raises the error itself.
        """
        for record, error in refusals:
            if type(record) is _Put and record.queue is self:
                message = record.message
                companion = record.companion
                if companion is not None:
                    record.companion = None
                    companion.settle(outcome.Error(_copy_refusal(error)))
            else:
                message = self._refused_message(record)
            self._on_refused(message, error)

    def _refused_message(self, record: Append) -> object:
        """The message of a refused append staged elsewhere (decoded; its bytes if it cannot be)."""
        try:
            return self._codec.decode(record.type_name, record.payload)
        except Exception:
            return record.payload

    def _log_refused(self, _message: object, error: StoreRefused) -> None:
        log.error("%s: a message was not stored: %s", self.name, _describe(_refusal(error)))

    def store_failed(self, error: BaseException) -> None:
        """The store failed: hand out nothing more, fail parked senders, tell ``on_failure``.

        Asks waiting for messages not handed to a handler (prefetched, still
        on disk, or waiting out a backoff) get the failure now: nothing will
        deliver those messages again in this process, and a stop, which
        would fail them, may come only after their askers gave up.
        """
        if self._failure is not None:
            return
        self._failure = error
        asks = [
            item.companion
            for item in self.items
            if type(item) is Delivery and item.companion is not None
        ]
        asks.extend(self._companions.values())
        self._companions.clear()
        for _, delivery in self._redeliveries():
            if delivery is not None and delivery.companion is not None:
                asks.append(delivery.companion)
                delivery.companion = None
        self.items.clear()
        for ask in asks:
            ask.settle(outcome.Error(copy_failure(error)))
        for task in self.producers:
            reschedule(task, outcome.Error(StoreFailed(*error.args)))
        self.producers.clear()
        self._kicked.set()
        self._on_failure(error)

    # --- the serving task -----------------------------------------------------------

    def _hand_over(self, delivery: Delivery, now: float) -> None:
        delivery._delivered_at = now
        self.items.append(delivery)
        self._known.add(delivery.id)
        self._outstanding += 1
        if self._consumers:
            self._wake_one()

    def _from_row(self, row: StoredMessage, attempt: int) -> Delivery | None:
        """Decode a stored message; one that cannot be is dead-lettered, its ask fails."""
        try:
            message = self._codec.decode(row.type_name, row.payload)
        except Exception as error:
            unread = self._row_delivery(row, None, attempt, None)
            self._bury_unhandled(unread, _undecodable(row.type_name, error), error)
            ask = self._companions.pop(row.id, None)
            if ask is not None:
                ask.settle(outcome.Error(error))  # it will never be handled
            return None
        return self._row_delivery(row, message, attempt, self._companions.pop(row.id, None))

    def _row_delivery(
        self, row: StoredMessage, message: object, attempt: int, companion: Ask | None
    ) -> Delivery:
        """The delivery of stored ``row``, its message decoded, as attempt ``attempt``."""
        return Delivery(
            self,
            message,
            row.id,
            row.msg_id,
            attempt,
            row.retries,
            row.first_delivered_at,
            companion,
            self._generation,
            row,
        )

    def _bury_unhandled(self, delivery: Delivery, reason: str, error: BaseException | None) -> None:
        """Dead-letter a delivery no handler will see (held for the move, then buried)."""
        delivery._delivered_at = trio.current_time()
        self._known.add(delivery.id)
        self._outstanding += 1
        self._bury(delivery, reason, error)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Attach to the store and keep the mailbox supplied until ``aclose`` (or cancelled).

        Reports started once the mailbox is open and supplied: the first
        suspect handed out if the last stop was unclean, else the first window
        of stored messages fetched. Then it fetches when the queue is spilled
        and the window has room, hands out suspects one at a time, and runs
        the redelivery timers on Trio's clock. A queue that replaces a closed
        one (``replacing``) first waits until that one's serving task has
        returned: a read of the store it was making claims what it read, and
        its release must commit before this queue opens the mailbox.
        """
        self._served = trio.Event()
        predecessor, self._predecessor = self._predecessor, None
        try:
            if predecessor is not None and predecessor._served is not None:
                await predecessor._served.wait()
            self.store.attach(self.name, self)
            await self._attach()
            # The first suspect, or the first window of stored messages, is
            # ready before ``start`` returns (and new appends are handed over
            # at commit if everything stored fit in the window).
            if not self._attach_needed:
                await self._step()
            task_status.started()
            while not self._detached:
                try:
                    await self._step()
                except (StoreFailed, trio.ClosedResourceError):
                    # The store failed (reported through store_failed and
                    # on_failure) or was closed under the queue: from now on
                    # it hands out nothing and waits to be closed.
                    self._halted = True
            if self._late_claims:
                await self._release_late_claims()  # before a replacing queue opens
        finally:
            if self._deferred:
                with contextlib.suppress(StoreFailed, trio.ClosedResourceError):
                    self._ack_deferred()
            self.store.detach(self.name, self)
            self._served.set()

    def replacing(self, predecessor: DurableQueue) -> None:
        """Say that this queue replaces ``predecessor`` (closed and retired): see ``serve``."""
        self._predecessor = predecessor

    async def aclose(self) -> None:
        """Stop ``serve`` and detach from the store (close the queue first)."""
        self.retire()
        await trio.lowlevel.checkpoint()

    def retire(self) -> None:
        """Stop ``serve`` and detach from the store now (a closed queue that is replaced)."""
        self._detached = True
        self._kicked.set()
        self.store.detach(self.name, self)

    async def _attach(self) -> None:
        self._attach_needed = False
        generation = self._generation
        self._heard = []
        self._reading = True
        try:
            opening = await self._polled.open_mailbox(self.name)
        finally:
            self._reading = False
            heard, self._heard = self._heard, None
        if generation != self._generation:
            self._closed_meanwhile()
            self._attach_needed = True
            return
        # Appends heard while the opening was on its way that committed after
        # its count (its caller may resume after later commits were heard).
        last = opening.last_id
        self._depth = opening.depth + sum(1 for delivery_id in heard if delivery_id > last)
        self._recovering = opening.recovering
        now = trio.current_time()
        wall = wall_now()
        for delivery_id, available_at in opening.delayed:
            self._sequence += 1
            heapq.heappush(
                self._timers,
                (now + max(0.0, available_at - wall), self._sequence, delivery_id, None),
            )
            self._known.add(delivery_id)
        if self.producers:
            # Senders parked on the count before the opening (a reopened queue's, which
            # held acks since made): nothing else would let them in if nothing comes.
            self.admit()

    async def _step(self) -> None:
        if self._deferred:
            self._ack_deferred()  # before the next read: see ``_ack_stale``
        if self._late_claims:
            await self._release_late_claims()  # before a reopening
            return
        if self._halted or self._failure is not None or (self.closed and not self._attach_needed):
            await self._wait(math.inf)
            return
        if self._attach_needed:
            if not self.closed:
                await self._attach()
            else:
                await self._wait(math.inf)
            return
        if self._recovering:
            if self._suspect is None:
                await self._next_suspect()
            else:
                await self._wait(math.inf)
            return
        if self._timers and self._timers[0][0] <= trio.current_time():
            await self._fire_timers()
            return
        room = self.options.prefetch - self._outstanding - self._pending_claims
        if not self._live and room > 0 and self._outstanding <= self._refill:
            await self._fetch(room)
            return
        await self._wait(self._timers[0][0] if self._timers else math.inf)

    async def _wait(self, deadline: float) -> None:
        if not self._kicked.is_set():
            with trio.move_on_at(deadline):
                await self._kicked.wait()
        if self._kicked.is_set():
            self._kicked = trio.Event()

    def _closed_meanwhile(self) -> None:
        """A read of the store that claims returned after a close: clear the claims again.

        The close's release may have committed before that read's claim (a
        store runs its reads after a group's writes), which would leave the
        watermark of a clean stop set: the next open would charge everything
        below it a delivery that never ran. This release follows the claim.
        """
        if self._failure is None:
            with contextlib.suppress(StoreFailed, trio.ClosedResourceError):
                self._open_batch().release(self.name)

    async def _release_late_claims(self) -> None:
        """Clear the claims again once the claimed appends staged before the close committed.

        The close's release may commit before them (a group commit stops near
        2000 rows, and a handler's send to this mailbox is in its ack's batch,
        which may be staged after this queue's), leaving the watermark of a
        clean stop set: the next open would charge each message below it a
        delivery that never ran, and dead-letter it at ``max_deliveries``.
        """
        self._late_claims = False
        with contextlib.suppress(StoreFailed, trio.ClosedResourceError):
            await self.store.flush()
        self._closed_meanwhile()

    async def _next_suspect(self) -> None:
        generation = self._generation
        # The queue, not the store, moves a suspect that used its deliveries
        # up (below), so that its room is made and its dead letter reported.
        self._reading = True
        try:
            row = await self._polled.next_suspect(
                self.name, after=self._after_suspect, max_deliveries=sys.maxsize
            )
        finally:
            self._reading = False
        if generation != self._generation:
            self._closed_meanwhile()
            return
        if row is None:
            self._recovering = False
            return
        # ``row.deliveries`` counts this delivery, recorded but not run yet.
        ran = row.deliveries - 1
        spent = ran - row.retries >= self.options.max_deliveries
        delivery = self._from_row(row, ran if spent else row.deliveries)
        if delivery is None:
            self._after_suspect = row.id
            return
        self._suspect = delivery
        if not spent:
            self._hand_over(delivery, trio.current_time())
            return
        # It kept stopping the process: dead without running again. Its N is what
        # max_deliveries counts (not the Retries), as the stores' reasons say.
        self._bury_unhandled(
            delivery,
            f"gave up after {ran - row.retries} deliveries: the process stopped while it "
            "was being handled",
            None,
        )

    async def _fire_timers(self) -> None:
        now = trio.current_time()
        timers = self._timers
        reread: list[int] = []
        fired: list[Delivery] = []
        while timers and timers[0][0] <= now:
            _, _, delivery_id, delivery = heapq.heappop(timers)
            if delivery is not None and delivery_id <= self._claimed:
                fired.append(delivery)
            else:
                reread.append(delivery_id)
        generation = self._generation
        if fired and not await self._hand_over_marked(fired, generation):
            return
        if not reread:
            return
        self._reading = True
        try:
            rows = await self._polled.fetch(self.name, ids=reread, limit=len(reread))
        finally:
            self._reading = False
        if generation != self._generation:
            self._closed_meanwhile()
            return
        counted_out = self._counted_out
        fired = []
        for row in rows:
            if row.id > self._claimed:
                self._claimed = row.id
            if row.id in counted_out:
                continue  # acked by a stale delivery: gone once that ack commits
            delivery = self._from_row(row, row.deliveries + 1)
            if delivery is not None:
                fired.append(delivery)
        gone = set(reread) - {row.id for row in rows if row.id not in counted_out}
        self._known.difference_update(gone)
        if fired:
            await self._hand_over_marked(fired, generation)

    async def _hand_over_marked(self, fired: list[Delivery], generation: int) -> bool:
        """Record ``fired`` as handed out again (``_mark_redelivered``), then hand them over.

        Returns False, handing nothing over, if the mailbox closed meanwhile
        (the close saw them in ``_firing``).
        """
        try:
            await self._mark_redelivered(fired)
        except BaseException:
            self._unfire(generation)
            raise
        if generation != self._generation:
            return False
        self._firing = []
        now = trio.current_time()
        for delivery in fired:
            self._hand_over(delivery, now)
        return True

    async def _mark_redelivered(self, deliveries: list[Delivery]) -> None:
        """Record that ``deliveries`` are handed out again, and wait until it is durable.

        A nack leaves a message's ``last_delivered_at`` before its
        ``available_at``: waiting out its backoff, running nothing, so an
        unclean stop does not charge it a delivery (``_OpenMailbox``). This
        sets both to now, before the handler gets it: from here on a stop
        charges it the delivery it may be running, as a claimed message is
        (one that kills the process is dead-lettered in the end). Held in
        ``_firing`` meanwhile (a close or a store failure sees them there).
        """
        self._firing = deliveries
        wall = wall_now()
        batch = WriteBatch()
        for delivery in deliveries:
            batch.nack(
                delivery.id,
                deliveries=delivery.attempt - 1,
                retries=delivery._retries,
                available_at=wall,
                delivered_at=wall,
                first_delivered_at=delivery._first if delivery._first is not None else wall,
            )
        await self.store.submit(batch)

    def _unfire(self, generation: int) -> None:
        """Recording a hand-out failed (the store failed, or cancelled): back to the timers."""
        if generation != self._generation:
            return
        now = trio.current_time()
        for delivery in self._firing:
            self._sequence += 1
            heapq.heappush(self._timers, (now, self._sequence, delivery.id, delivery))
        self._firing = []

    def _prepare(self, rows: list[StoredMessage]) -> None:
        """Decode a window while the commit that claims it is on its way to the disk.

        The store calls it on Trio's thread before ``fetch`` returns; the
        deliveries are handed over only once it has (after the claim commits).
        """
        decode = self._codec.decode
        row_delivery = self._row_delivery
        prepared: list[Delivery | None] = []
        for row in rows:
            try:
                message = decode(row.type_name, row.payload)
            except Exception:
                prepared.append(None)  # dead-lettered at the hand-over, with its reason
                continue
            prepared.append(row_delivery(row, message, row.deliveries + 1, None))
        self._prepared = prepared

    def _take_prepared(self) -> list[Delivery | None] | None:
        # A method, not an inline read: ``_prepare`` sets the field while
        # ``_fetch`` awaits, which a type checker cannot see.
        prepared, self._prepared = self._prepared, None
        return prepared

    async def _fetch(self, room: int) -> None:
        generation = self._generation
        seen = self._unread
        self._prepared = None
        self._reading = True
        try:
            rows = await self._polled.fetch(
                self.name, after=self._cursor, limit=room, prepare=self._prepare
            )
        finally:
            self._reading = False
        prepared = self._take_prepared()
        if generation != self._generation:
            self._closed_meanwhile()
            return
        known = self._known
        now = trio.current_time()
        fetched = len(rows)
        last = 0
        if rows:
            last = rows[-1].id
            if last > self._cursor:
                self._cursor = last
            if last > self._claimed:
                self._claimed = last
            if self._counted_out:
                rows, prepared = self._without_counted_out(rows, prepared)
        # ``_from_row`` and ``_hand_over`` inline for the rows that decode (the
        # common case), the consumers woken once for the lot.
        decode = self._codec.decode
        companions = self._companions
        items = self.items
        generation = self._generation
        handed = 0
        undecoded: list[StoredMessage] = rows
        if prepared is not None and len(prepared) == len(rows):
            # Decoded while the claim committed (``_prepare``).
            undecoded = []
            for row, ready in zip(rows, prepared, strict=True):
                delivery_id = row.id
                if delivery_id in known:
                    continue
                if ready is None:
                    self._from_row(row, row.deliveries + 1)  # dead-lettered with its reason
                    continue
                if companions:
                    ready.companion = companions.pop(delivery_id, None)
                ready._delivered_at = now
                items.append(ready)
                known.add(delivery_id)
                handed += 1
        for row in undecoded:
            delivery_id = row.id
            if delivery_id in known:
                continue
            try:
                message = decode(row.type_name, row.payload)
            except Exception:
                self._from_row(row, row.deliveries + 1)  # dead-lettered with the codec's reason
                continue
            delivery = Delivery(
                self,
                message,
                delivery_id,
                row.msg_id,
                row.deliveries + 1,
                row.retries,
                row.first_delivered_at,
                companions.pop(delivery_id, None) if companions else None,
                generation,
                row,
            )
            delivery._delivered_at = now
            items.append(delivery)
            known.add(delivery_id)
            handed += 1
        if handed:
            self._outstanding += handed
            while handed and self._consumers:
                self._wake_one()
                handed -= 1
        if fetched < room and self._unread == seen:
            self._live = True
            self._behind = 0
        elif fetched and 0 < self._behind <= last:
            self._behind = last + 1  # read up to here: what is left lies above


def _decision_of(error: BaseException | None) -> Retry | GiveUp | None:
    """The handler's decision about its message that ``error`` is (``Retry``, ``GiveUp``), or None.

    A handler that works in a nursery gets what its tasks (or the nursery's
    body) raise back in an exception group (Trio's groups are strict): a group
    holding one exception, however deeply nested, stands for that exception,
    so a ``Retry`` raised there is still a ``Retry``. A group of several
    exceptions is a failure, whatever it holds.
    """
    leaf = None if error is None else single_leaf(error)
    return leaf if isinstance(leaf, (Retry, GiveUp)) else None


def _wall(trio_time: float) -> float:
    """The wall-clock seconds (as stored) of an instant on Trio's clock."""
    return wall_now() - (trio.current_time() - trio_time)


def _dead_letter_facts(
    item: Delivery, error: BaseException | None
) -> tuple[str | None, float, float]:
    """What a dead letter of ``item`` records: the traceback, its first and last delivery."""
    text = None if error is None else "".join(traceback.format_exception(error))
    delivered = _wall(item._delivered_at)
    return text, item._first if item._first is not None else delivered, delivered


def _undecodable(type_name: str, error: Exception) -> str:
    """The dead-letter reason of a payload of ``type_name`` that did not decode."""
    if isinstance(error, UndecodableMessage):
        return str(error)
    return f"cannot decode {type_name}: {_describe(error)}"


def _describe(error: BaseException) -> str:
    """``TypeName: text`` for a dead letter's reason; never raises (as ``trouper._text``)."""
    try:
        text = str(error)
    except Exception as broken:  # a user's error with a broken __str__
        text = f"<str() raised {type(broken).__name__}>"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _answer_failure(ask: Ask) -> Callable[[BaseException], None]:
    """What answers ``ask`` if the commit of its message fails (nobody else waits for it)."""

    def answer(error: BaseException) -> None:
        ask.settle(outcome.Error(error))

    return answer


def _copy_refusal(error: StoreRefused) -> StoreRefused:
    """A fresh ``StoreRefused`` with the args and cause of ``error``, for one more raise."""
    copy = StoreRefused(*error.args)
    copy.__cause__ = error.__cause__
    return copy


def _raise_if_refused(refusals: Sequence[tuple[Append, StoreRefused]], record: Append) -> None:
    """Raise (a copy of) why ``record`` was refused, if it is among ``refusals``."""
    for refused, error in refusals:
        if refused is record:
            raise _copy_refusal(error)


def _refusal(error: BaseException) -> BaseException:
    """What a failed commit was refused or failed for: the store's error's cause, if any.

    A commit fails with ``StoreRefused`` (one write refused) or ``StoreFailed``
    (the store failed) around the server's, the client's or the database's
    error, which is what a dead letter's or a log line's reason names.
    """
    cause = error.__cause__
    return cause if cause is not None else error
