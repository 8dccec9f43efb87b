"""The durable mailbox core: a mailbox whose messages live in a store until handled.

Theory of operation
-------------------
A ``DurableQueue`` is what a cell consumes, like the in-memory ``Mailbox``:
the cell ``popleft``s from ``items``, registers itself and parks when it is
empty, and calls ``settle(item, ending)`` once for every message it took,
saying how it ended. Each item is a ``Delivery``: the decoded message and its
delivery facts (id, msg_id, attempt).

Putting: ``put_nowait`` encodes the message and stages an append for the
next group commit; ``put`` waits for room, then until the append is durable.
Room is the capacity (in messages) minus the messages stored and the appends
staged; acks and dead-letter moves make room when they are staged.

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
  When a fetch comes back short and no unclaimed append was staged since it
  was issued, everything stored has been read: the queue is live again.

Settling: ``handled`` stages the ack with the handler's staged sends and the
actor's new state in one batch (one transaction); callbacks for in-memory
targets run only after it commits. ``failed`` with ``Retry`` or an error
stages a nack and arms a timer on Trio's clock for the redelivery; at
``max_deliveries`` (or with ``GiveUp``, or a payload that cannot be decoded)
the message moves to the dead-letter queue instead. ``returned`` puts it back
at the front, uncounted.

Recovery: when the store says the mailbox stopped uncleanly, the serving
task hands out the suspects one at a time through ``next_suspect`` (each
delivery committed before its handler runs) and nothing else until they are
all settled (see docs/durable.md).
"""

from __future__ import annotations

import contextlib
import heapq
import math
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from random import Random
from typing import Protocol

import attrs
import outcome
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from trouper.durable._backoff import ExponentialJitter, RetryBackoff, retry_delay
from trouper.durable._clock import wall_now
from trouper.durable._store import Append, Store, StoredMessage, WriteBatch
from trouper.errors import StoreFailed

__all__ = [
    "HANDLED",
    "RETURNED",
    "Delivery",
    "Durable",
    "DurableQueue",
    "EncodedMessage",
    "Failed",
    "GiveUp",
    "Handled",
    "MessageCodec",
    "Retry",
    "Returned",
    "WithMsgId",
]


def _backoff(value: object) -> RetryBackoff:
    if isinstance(value, ExponentialJitter):
        return value
    if isinstance(value, (list, tuple)):
        delays = tuple(float(delay) for delay in value)
        if not delays:
            raise ValueError("backoff delays must not be empty")
        for delay in delays:
            if not (delay >= 0 and math.isfinite(delay)):
                raise ValueError(f"backoff delays must be finite and >= 0, got {delay!r}")
        return delays
    raise TypeError(f"backoff must be an ExponentialJitter or a sequence of delays, got {value!r}")


@attrs.frozen
class Durable:
    """How a durable mailbox delivers: retries, backoff, capacity, prefetch, deduplication."""

    max_deliveries: int = attrs.field(default=10)
    """Deliveries that may fail (error or crash) before the message is dead-lettered."""
    backoff: RetryBackoff = attrs.field(default=ExponentialJitter(), converter=_backoff)
    """Waits between failed deliveries: ``ExponentialJitter(...)`` or explicit delays."""
    capacity: int = attrs.field(default=100_000)
    """Messages the mailbox may hold (``put`` waits, ``put_nowait`` refuses, beyond)."""
    prefetch: int = attrs.field(default=100)
    """Messages held in memory, ready or being handled (RabbitMQ's prefetch count)."""
    dedup_window: float | None = attrs.field(default=120.0)
    """Seconds a ``msg_id`` is remembered to drop duplicates; ``None`` remembers for good."""

    @max_deliveries.validator
    def _check_max_deliveries(self, _attribute: object, value: int) -> None:
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"max_deliveries must be an int >= 1, got {value!r}")

    @capacity.validator
    def _check_capacity(self, _attribute: object, value: int) -> None:
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"capacity must be an int >= 1, got {value!r}")

    @prefetch.validator
    def _check_prefetch(self, _attribute: object, value: int) -> None:
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"prefetch must be an int >= 1, got {value!r}")

    @dedup_window.validator
    def _check_dedup_window(self, _attribute: object, value: float | None) -> None:
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"dedup_window must be None or a finite number >= 0, got {value!r}")


class Retry(Exception):
    """Raised by a handler: deliver this message again after ``after`` seconds.

    The delivery is recorded (the next one has the next attempt number) but it
    does not count toward ``max_deliveries``, and the actor did not fail.
    """

    def __init__(self, after: float) -> None:
        if not (after >= 0 and math.isfinite(after)):
            raise ValueError(f"after must be a finite number >= 0, got {after!r}")
        super().__init__(after)

    @property
    def after(self) -> float:
        """Seconds until the redelivery."""
        return self.args[0]  # type: ignore[no-any-return]


class GiveUp(Exception):
    """Raised by a handler: move this message to the dead-letter queue now, with ``reason``.

    Named for what the handler does with the message; ``Reject`` answers an
    ``ask`` with an error, and ``DeadLetter`` is the runtime's record of an
    undeliverable message.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)

    @property
    def reason(self) -> str:
        """Why the message cannot be handled (stored as the dead letter's reason)."""
        return self.args[0]  # type: ignore[no-any-return]


@attrs.frozen
class Handled:
    """The handler returned: acknowledge, with its staged sends and state, in one transaction."""


@attrs.frozen
class Failed:
    """The handler raised ``error``: redeliver later, or dead-letter the message."""

    error: BaseException
    """What the handler raised (``Retry`` and ``GiveUp`` included)."""


@attrs.frozen
class Returned:
    """The message was not handled (the instance restarted or stopped first): put it back."""


HANDLED = Handled()
"""The ending of a handler that returned."""
RETURNED = Returned()
"""The ending of a message taken but not handled."""

Ending = Handled | Failed | Returned


@attrs.frozen
class WithMsgId:
    """A message put with a message id: a duplicate of it within the dedup window is dropped."""

    message: object
    """The message."""
    msg_id: str
    """The sender's id for it (an idempotency key)."""


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


Unwrap = Callable[[object], tuple[object, "str | None", object]]


def _unwrap(item: object) -> tuple[object, str | None, object]:
    if type(item) is WithMsgId:
        return item.message, item.msg_id, None
    return item, None, None


class Delivery:
    """One delivery of a stored message: what a cell takes from a durable mailbox's ``items``.

    ``id``, ``msg_id``, ``attempt`` and ``redelivered`` are the delivery facts
    a handler may read. While the handler runs, the engine stages its effects
    here (``send``, ``after_commit``, ``save_state``); they commit with the
    ack, or are dropped if the handler fails.
    """

    __slots__ = (
        "_after",
        "_delivered_at",
        "_first",
        "_generation",
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
        message: object,
        delivery_id: int,
        msg_id: str | None,
        attempt: int,
        retries: int,
        first_delivered_at: float | None,
        companion: object,
        generation: int,
    ) -> None:
        # The decoded message.
        self.message = message
        # The delivery id (the store's row id).
        self.id = delivery_id
        # The sender's message id, if it gave one.
        self.msg_id = msg_id
        # This delivery's number: 1 for the first.
        self.attempt = attempt
        # In-memory object put with the message (an ask's envelope), or None;
        # lost with the process, so a durable ask's reply is at most once.
        self.companion = companion
        self._retries = retries
        self._first = first_delivered_at
        # When this delivery was handed over (wall seconds).
        self._delivered_at = wall_now()
        self._generation = generation
        # (target queue, message, msg_id) appended with the ack.
        self._sends: list[tuple[DurableQueue, object, str | None]] | None = None
        # Callbacks released after the ack commits.
        self._after: list[Callable[[], object]] | None = None
        # (key, data) saved with the ack.
        self._state: tuple[str | None, bytes] | None = None

    def __repr__(self) -> str:
        return f"<Delivery {self.id} attempt {self.attempt} of {self.message!r}>"

    @property
    def redelivered(self) -> bool:
        """Whether an earlier delivery of this message was recorded."""
        return self.attempt > 1

    def send(self, target: DurableQueue, message: object, msg_id: str | None = None) -> None:
        """Stage ``message`` for ``target``: appended in the same transaction as this ack."""
        if self._sends is None:
            self._sends = []
        self._sends.append((target, message, msg_id))

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once the ack has committed (in-memory sends: an outbox)."""
        if self._after is None:
            self._after = []
        self._after.append(callback)

    def save_state(self, data: bytes, key: str | None = None) -> None:
        """Save ``data`` as the actor's state (under ``key``, default the mailbox) with the ack."""
        self._state = (key, data)


class _Hint:
    """What a queue attaches to its own appends, to hand them over after the commit."""

    __slots__ = ("claimed", "companion", "generation", "message", "reserved")

    def __init__(
        self, message: object, companion: object, claimed: bool, reserved: bool, generation: int
    ) -> None:
        self.message = message
        self.companion = companion
        # Staged with claim=True: handed over as soon as it commits.
        self.claimed = claimed
        # Counted in the queue's ``_reserved`` until it commits.
        self.reserved = reserved
        self.generation = generation


def _ignore(_: object) -> None:
    pass


class DurableQueue:
    """A durable mailbox: the cell-facing protocol of ``Mailbox``, backed by a ``Store``.

    Start ``serve`` in a nursery (``await nursery.start(queue.serve)``) before
    the cell consumes; it attaches to the store, recovers after an unclean
    stop, fetches and runs the redelivery timers. Everything else is called
    from Trio's thread by the cell and by senders.

    ``codec`` turns messages into bytes; ``random`` drives the backoff's
    jitter (seed it to replay); ``unwrap(item)`` splits what is put into
    ``(message, msg_id, companion)`` (by default: ``WithMsgId`` or a bare
    message); ``on_dead_letter(delivery, reason)`` is called once a message's
    move to the dead-letter queue commits; ``on_failure(error)`` once if the
    store fails.
    """

    def __init__(
        self,
        store: Store,
        name: str,
        codec: MessageCodec,
        options: Durable | None = None,
        *,
        random: Random | None = None,
        unwrap: Unwrap = _unwrap,
        on_dead_letter: Callable[[Delivery, str], object] | None = None,
        on_failure: Callable[[BaseException], object] | None = None,
    ) -> None:
        if not name:
            raise ValueError("a durable mailbox needs a name (its identity in the store)")
        # The store the messages live in.
        self.store = store
        # The mailbox's name in the store (the durable actor's name).
        self.name = name
        # Delivery options.
        self.options = options or Durable()
        self._codec = codec
        self._random = random or Random()
        self._unwrap = unwrap
        self._on_dead_letter = on_dead_letter
        self._on_failure = on_failure or _ignore
        # Deliveries ready to handle, and system messages, in order (the cell pops).
        self.items: deque[object] = deque()
        # Whether puts are refused (the actor stopped); the rows stay stored.
        self.closed = False
        # Parked consumers (cells), woken one per arrival.
        self._consumers: dict[object, None] = {}
        # Parked producers waiting for room, in arrival order.
        self._producers: dict[Task, None] = {}
        # Bumped by close: deliveries of an older generation only settle in the store.
        self._generation = 0
        # Messages stored (committed), less the acks and dead-letter moves staged.
        self._depth = 0
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
        # Mirror of the committed claim watermark: every handed-over id is <= it.
        self._claimed = 0
        # Ids held in memory (items, being handled, or waiting for redelivery).
        self._known: set[int] = set()
        # Redeliveries: (Trio deadline, sequence, id, delivery or None to re-read).
        self._timers: list[tuple[float, int, int, Delivery | None]] = []
        self._sequence = 0
        # Companions of appends not handed over at commit (asks, by id).
        self._companions: dict[int, object] = {}
        # The batch being filled for the next commit (None or sealed: start another).
        self._batch: WriteBatch | None = None
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
        # Whether the serving task should stop.
        self._detached = False
        # Whether the store failed or closed under the serving task (it then idles).
        self._halted = False
        # Set to wake the serving task.
        self._kicked = trio.Event()
        # The store's failure, once it failed.
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        return f"<DurableQueue {self.name!r} depth {self._depth + self._reserved}>"

    def __len__(self) -> int:
        return len(self.items)

    # --- what senders call ---------------------------------------------------

    @property
    def depth(self) -> int:
        """Messages stored or staged for this mailbox (what ``capacity`` bounds)."""
        return self._depth + self._reserved

    @property
    def full(self) -> bool:
        """Whether a ``put_nowait`` would be refused for room."""
        return self._depth + self._reserved >= self.options.capacity

    def _check(self) -> None:
        if self._failure is not None:
            raise StoreFailed(*self._failure.args) from self._failure.__cause__

    def _open_batch(self) -> WriteBatch:
        batch = self._batch
        if batch is None or batch.sealed:
            self._batch = batch = WriteBatch()
            self.store.stage(batch)
        return batch

    def _stage_append(
        self,
        batch: WriteBatch,
        message: object,
        msg_id: str | None,
        companion: object,
        *,
        reserved: bool,
    ) -> Append:
        encoded = self._codec.encode(message)
        claim = (
            self._live
            and not self.closed
            and self._outstanding + self._pending_claims < self.options.prefetch
        )
        if claim:
            self._pending_claims += 1
        else:
            self._live = False
            self._unread += 1
        if reserved:
            self._reserved += 1
        window = self.options.dedup_window
        return batch.append(
            self.name,
            encoded.type_name,
            encoded.payload,
            msg_id=msg_id,
            dedup_until=None if msg_id is None or window is None else wall_now() + window,
            claim=claim,
            hint=_Hint(message, companion, claim, reserved, self._generation),
        )

    def put_nowait(self, item: object) -> bool:
        """Stage ``item`` for the next commit; return False if the mailbox is full or closed.

        It is durable once that commit is done (``await store.flush()`` waits
        for it). Raises what the codec raises for a message it cannot encode,
        and ``StoreFailed`` once the store has failed.
        """
        self._check()
        if self.closed or self._producers or self.full:
            return False
        message, msg_id, companion = self._unwrap(item)
        self._stage_append(self._open_batch(), message, msg_id, companion, reserved=True)
        return True

    async def put(self, item: object) -> bool:
        """Wait for room, append ``item``, and return True once it is durable.

        Returns False if the mailbox was closed while waiting (nothing was put).
        If cancelled while waiting for room, nothing was put; once the append
        is staged it completes even if cancelled meanwhile. A duplicate
        ``msg_id`` is dropped by the commit and still returns True.

        Raises:
            StoreFailed: the store failed; the item may not be stored.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._check()
        if self.closed:
            return False
        message, msg_id, companion = self._unwrap(item)
        if self._producers or self.full:
            task = current_task()
            self._producers[task] = None

            def abort(_: object) -> Abort:
                del self._producers[task]
                return Abort.SUCCEEDED

            # True: admitted with a reservation made for us. False: closed.
            if not await wait_task_rescheduled(abort):
                return False
            self._reserved -= 1
        batch = WriteBatch()
        record = self._stage_append(batch, message, msg_id, companion, reserved=True)
        try:
            await self.store.submit(batch)
        except trio.Cancelled:
            # Cancelled before the batch was staged: nothing was put.
            self._unstage(record)
            raise
        return True

    def _unstage(self, record: Append) -> None:
        hint = record.hint
        assert isinstance(hint, _Hint)
        self._reserved -= 1
        if hint.claimed:
            self._pending_claims -= 1
        if self._producers:
            self.admit()

    def put_system(self, item: object) -> None:
        """Append a system notice (``Terminated``, ``Exited``): in memory only, never refused."""
        self.items.append(item)
        if self._consumers:
            self._wake_one()

    # --- what the cell calls ----------------------------------------------------

    def register(self, consumer: object) -> None:
        """Have ``consumer`` (with a ``wake()`` method) woken by the next arrival."""
        self._consumers[consumer] = None

    def forget(self, consumer: object) -> None:
        """Unregister a parked consumer woken by something else."""
        self._consumers.pop(consumer, None)

    def _wake_one(self) -> None:
        consumer = next(iter(self._consumers))
        del self._consumers[consumer]
        consumer.wake()  # type: ignore[attr-defined]

    @property
    def producers_waiting(self) -> bool:
        """Whether senders are parked waiting for room."""
        return bool(self._producers)

    def admit(self) -> None:
        """Let parked senders in while there is room (room comes from settling, not taking)."""
        producers = self._producers
        capacity = self.options.capacity
        while producers and self._depth + self._reserved < capacity:
            task = next(iter(producers))
            del producers[task]
            self._reserved += 1
            reschedule(task, outcome.Value(True))

    def close(self) -> list[object]:
        """Refuse puts and drop what is held in memory; return what is not stored.

        The stored messages stay for the next incarnation (or a ``reopen``).
        Returned: the system notices that were waiting, and the companions
        (ask envelopes) of messages not yet handled, so their askers can be
        answered. Parked senders get False.
        """
        if self.closed:
            return []
        self.closed = True
        self._generation += 1
        returned: list[object] = []
        for item in self.items:
            if type(item) is Delivery:
                if item.companion is not None:
                    returned.append(item.companion)
            else:
                returned.append(item)
        returned.extend(self._companions.values())
        self._reset_memory()
        for task in self._producers:
            reschedule(task, outcome.Value(False))
        self._producers.clear()
        if self._failure is None and not self._detached:
            with contextlib.suppress(StoreFailed, trio.ClosedResourceError):
                self._open_batch().release(self.name)
        self._kicked.set()
        return returned

    def _reset_memory(self) -> None:
        self.items.clear()
        self._known.clear()
        self._timers.clear()
        self._companions.clear()
        self._outstanding = 0
        self._pending_claims = 0
        self._live = False
        self._cursor = 0
        self._claimed = 0
        self._recovering = False
        self._suspect = None
        self._after_suspect = None

    def reopen(self) -> None:
        """Accept puts again and reload the mailbox from the store (a stopped child restarted)."""
        if not self.closed:
            return
        self.closed = False
        self._attach_needed = True
        self._kicked.set()

    def settle(self, item: object, ending: Ending) -> None:
        """Record how a taken message ended (call once per message taken from ``items``).

        ``HANDLED``: ack it, with the sends, callbacks and state staged on the
        delivery, in one transaction. ``Failed(error)``: with ``Retry``,
        redeliver after its delay (not counted); with ``GiveUp``, dead-letter
        it now; any other error counts a failure: redeliver after the
        backoff, or dead-letter it at ``max_deliveries``. ``RETURNED``: put it
        back at the front of ``items``, uncounted. System notices need no
        settling (ignored here).
        """
        if type(item) is not Delivery:
            return
        self._check()
        current = item._generation == self._generation
        if ending is HANDLED:
            batch = self._open_batch()
            batch.ack(item.id)
            sends = item._sends
            if sends is not None:
                for target, message, msg_id in sends:
                    target._stage_append(batch, message, msg_id, None, reserved=True)
            if item._state is not None:
                key, data = item._state
                batch.save_state(self.name if key is None else key, data)
                if key is None:
                    self._state, self._state_known = data, True
            if item._after is not None:
                for callback in item._after:
                    batch.after_commit(callback)
            self._depth -= 1
            self._settled(item, current)
            return
        if type(ending) is Returned:
            if current and not self.closed:
                self.items.appendleft(item)
                if self._consumers:
                    self._wake_one()
            return
        assert type(ending) is Failed
        error = ending.error
        now = wall_now()
        if isinstance(error, Retry):
            self._redeliver(item, error.after, retries=item._retries + 1, now=now)
        elif isinstance(error, GiveUp):
            self._bury(item, f"gave up: {error.reason}", error)
        else:
            failures = item.attempt - item._retries
            if failures >= self.options.max_deliveries:
                self._bury(
                    item,
                    f"{_describe(error)} (max_deliveries {self.options.max_deliveries} reached)",
                    error,
                )
            else:
                delay = retry_delay(self.options.backoff, failures, self._random)
                self._redeliver(item, delay, retries=item._retries, now=now)

    def _settled(self, item: Delivery, current: bool) -> None:
        if not current:
            return
        self._known.discard(item.id)
        self._outstanding -= 1
        if self._producers:
            self.admit()
        if item is self._suspect:
            self._suspect = None
            self._after_suspect = item.id
            self._open_batch().settle_suspect(self.name)
            self._kicked.set()
        elif not self._live and self._outstanding <= self.options.prefetch // 2:
            self._kicked.set()

    def _redeliver(self, item: Delivery, delay: float, *, retries: int, now: float) -> None:
        first = item._first if item._first is not None else item._delivered_at
        self._open_batch().nack(
            item.id,
            deliveries=item.attempt,
            retries=retries,
            available_at=now + delay,
            delivered_at=item._delivered_at,
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
            item.message,
            item.id,
            item.msg_id,
            item.attempt + 1,
            retries,
            first,
            None,
            self._generation,
        )
        self._sequence += 1
        heapq.heappush(self._timers, (trio.current_time() + delay, self._sequence, item.id, again))
        self._kicked.set()

    def _bury(self, item: Delivery, reason: str, error: BaseException | None) -> None:
        text = None
        if error is not None:
            text = "".join(traceback.format_exception(error))
        batch = self._open_batch()
        batch.dead_letter(
            item.id,
            reason=reason,
            traceback=text,
            deliveries=item.attempt,
            first_delivered_at=item._first if item._first is not None else item._delivered_at,
            last_delivered_at=item._delivered_at,
        )
        if self._on_dead_letter is not None:
            notify = self._on_dead_letter
            batch.after_commit(lambda: notify(item, reason))
        self._depth -= 1
        self._settled(item, item._generation == self._generation)

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
        for record in appends:
            hint = record.hint
            mine = isinstance(hint, _Hint)
            if isinstance(hint, _Hint):
                if hint.reserved:
                    self._reserved -= 1
                if hint.claimed:
                    self._pending_claims -= 1
            if not record.accepted:
                continue
            self._depth += 1
            if (
                isinstance(hint, _Hint)
                and hint.claimed
                and hint.generation == self._generation
                and not self.closed
            ):
                delivery_id = record.id
                if delivery_id > self._claimed:
                    self._claimed = delivery_id
                if delivery_id > self._cursor:
                    self._cursor = delivery_id
                self._hand_over(
                    Delivery(
                        hint.message,
                        delivery_id,
                        record.msg_id,
                        1,
                        0,
                        None,
                        hint.companion,
                        self._generation,
                    )
                )
                continue
            if (
                isinstance(hint, _Hint)
                and hint.companion is not None
                and hint.generation == self._generation
            ):
                self._companions[record.id] = hint.companion
            if not mine:
                self._unread += 1
            unread = True
        if unread:
            self._live = False
            self._kicked.set()
        if self._producers:
            self.admit()

    def store_failed(self, error: BaseException) -> None:
        """The store failed: hand out nothing more, fail parked senders, tell ``on_failure``."""
        if self._failure is not None:
            return
        self._failure = error
        self.items.clear()
        for task in self._producers:
            reschedule(task, outcome.Error(StoreFailed(*error.args)))
        self._producers.clear()
        self._kicked.set()
        self._on_failure(error)

    # --- the serving task -----------------------------------------------------------

    def _hand_over(self, delivery: Delivery) -> None:
        self.items.append(delivery)
        self._known.add(delivery.id)
        self._outstanding += 1
        if self._consumers:
            self._wake_one()

    def _from_row(self, row: StoredMessage, attempt: int) -> Delivery | None:
        """Decode a stored message; a payload that cannot be decoded is dead-lettered."""
        try:
            message = self._codec.decode(row.type_name, row.payload)
        except Exception as error:
            delivery = Delivery(
                None,
                row.id,
                row.msg_id,
                attempt,
                row.retries,
                row.first_delivered_at,
                None,
                self._generation,
            )
            self._known.add(row.id)
            self._outstanding += 1
            self._bury(delivery, f"cannot decode {row.type_name}: {_describe(error)}", error)
            return None
        return Delivery(
            message,
            row.id,
            row.msg_id,
            attempt,
            row.retries,
            row.first_delivered_at,
            self._companions.pop(row.id, None),
            self._generation,
        )

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Attach to the store and keep the mailbox supplied until ``aclose`` (or cancelled).

        Reports started once the mailbox is open and supplied: the first
        suspect handed out if the last stop was unclean, else the first window
        of stored messages fetched. Then it fetches
        when the queue is spilled and the window has room, hands out suspects
        one at a time, and runs the redelivery timers on Trio's clock.
        """
        self.store.attach(self.name, self)
        try:
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
        finally:
            self.store.detach(self.name)

    async def aclose(self) -> None:
        """Stop ``serve`` and detach from the store (close the queue first)."""
        self._detached = True
        self._kicked.set()
        await trio.lowlevel.checkpoint()

    async def _attach(self) -> None:
        self._attach_needed = False
        generation = self._generation
        opening = await self.store.open_mailbox(self.name)
        if generation != self._generation:
            self._attach_needed = True
            return
        self._depth = opening.depth
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

    async def _step(self) -> None:
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
        if not self._live and room > 0 and self._outstanding <= self.options.prefetch // 2:
            await self._fetch(room)
            return
        await self._wait(self._timers[0][0] if self._timers else math.inf)

    async def _wait(self, deadline: float) -> None:
        with trio.move_on_at(deadline):
            await self._kicked.wait()
        if self._kicked.is_set():
            self._kicked = trio.Event()

    async def _next_suspect(self) -> None:
        generation = self._generation
        row = await self.store.next_suspect(
            self.name, after=self._after_suspect, max_deliveries=self.options.max_deliveries
        )
        if generation != self._generation:
            return
        if row is None:
            self._recovering = False
            return
        delivery = self._from_row(row, row.deliveries)
        if delivery is None:
            self._after_suspect = row.id
            return
        self._suspect = delivery
        self._hand_over(delivery)

    async def _fire_timers(self) -> None:
        now = trio.current_time()
        timers = self._timers
        reread: list[int] = []
        while timers and timers[0][0] <= now:
            _, _, delivery_id, delivery = heapq.heappop(timers)
            if delivery is not None and delivery_id <= self._claimed:
                self._hand_over(delivery)
            else:
                reread.append(delivery_id)
        if not reread:
            return
        generation = self._generation
        rows = await self.store.fetch(self.name, ids=reread, limit=len(reread))
        if generation != self._generation:
            return
        for row in rows:
            if row.id > self._claimed:
                self._claimed = row.id
            delivery = self._from_row(row, row.deliveries + 1)
            if delivery is not None:
                self._hand_over(delivery)
        gone = set(reread) - {row.id for row in rows}
        self._known.difference_update(gone)

    async def _fetch(self, room: int) -> None:
        generation = self._generation
        seen = self._unread
        rows = await self.store.fetch(self.name, after=self._cursor, limit=room)
        if generation != self._generation:
            return
        known = self._known
        for row in rows:
            if row.id > self._cursor:
                self._cursor = row.id
            if row.id > self._claimed:
                self._claimed = row.id
            if row.id in known:
                continue
            delivery = self._from_row(row, row.deliveries + 1)
            if delivery is not None:
                self._hand_over(delivery)
        if len(rows) < room and self._unread == seen:
            self._live = True


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
