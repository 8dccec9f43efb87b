"""The durable mailbox on a store that delivers and redelivers by itself (JetStream).

Theory of operation
-------------------
A ``ServedQueue`` is a ``DurableQueue`` whose messages are pushed by the
store (a ``DeliveringStore``) instead of read from it. What changes is only
the consuming side; putting is the same (an append staged in a batch,
``put`` waits until the batch is durable, ``put_nowait`` stages it):

- Serving: ``serve`` opens the mailbox's feed (the store makes its stream
  and its consumer) and keeps a long poll outstanding for as many messages
  as the prefetch window has room for. The store calls ``_arrived`` with
  each message as it comes (from the store's reader task): it is decoded
  and handed to ``items``. Nothing is read back, nothing is claimed, no
  timer runs here: the store counts deliveries and redelivers a message
  whose ack does not come in time (its process died, or it was nacked with
  a delay).
- Several consumers, in several processes, may share one mailbox: each
  message goes to one of them at a time.
- Depth: ``len()`` is the store's figure of the mailbox's stored, unsettled
  messages (``DeliveringStore.depth``: the server's count at its last read,
  with this process's own writes and settlements since) plus the appends
  this queue staged; no call reads the server.
- Settling ``HANDLED``: the handler's sends to durable mailboxes and the
  actor's new state go in one batch; the sends carry dedup keys derived
  from this message (``<mailbox>/<sequence>/<stored time>/<n>``), so a redelivery of it
  sends the same keys and the store drops the copies; once the batch is
  durable, the message is acked. There is no transaction: a crash between
  the two is absorbed by the deduplication window (docs/durable.md, "On
  JetStream").
- ``FAILED``: a nack with the backoff's delay (the store redelivers); at
  ``max_deliveries`` failures, or with ``GiveUp``, the store moves it to the
  dead-letter queue in a batch and settles it after. ``Retry`` is a nack
  with its delay that this process does not count as a failure (the count
  of ``Retry`` endings is kept in memory: after a crash they count).
- Giving back (``close``, a stop that interrupted a handler): a nack
  without delay that the server counts as a delivery and this process does
  not (``_returned``, kept in memory and handed to the queue that replaces
  this one, as the ``Retry`` counts): a message that no handler ran to its
  end keeps its attempt number however often its actor stops.
- A message that arrives with its deliveries used up (it was being handled
  when its process died, ``max_deliveries`` times) is dead-lettered without
  running: that is the poison protection. If the store refused the writes
  of its last run here (``_refused``), its dead letter says so.
- A dead letter the store refuses leaves its message held by nothing: it is
  released with the backoff's longest delay and remembered (``_burials``),
  and dead-lettered again, with the same reason, when it comes back.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from random import Random
from typing import TYPE_CHECKING

import outcome
import trio

from trouper.actors import Exited, Terminated
from trouper.durable._backoff import retry_delay
from trouper.durable._clock import wall_now
from trouper.durable._queue import (
    _FAILED,
    _HANDLED,
    Delivery,
    Durable,
    DurableQueue,
    EncodedMessage,
    MessageCodec,
    Retry,
    _answer_failure,
    _bad_msg_id,
    _copy_refusal,
    _dead_letter_facts,
    _decision_of,
    _describe,
    _refusal,
    _undecodable,
    _unwrap,
)
from trouper.durable._store import (
    Append,
    DeliveringStore,
    Feed,
    Received,
    WriteBatch,
    copy_failure,
)
from trouper.errors import ActorStopped, StoreFailed, StoreRefused
from trouper.runtime.lowlevel import Ask, MailboxEnding

if TYPE_CHECKING:
    from trouper.runtime.lowlevel import Ask

__all__ = ["EarlierStateRefused", "ServedAppend", "ServedQueue"]

log = logging.getLogger("trouper")

_RETURNS_KEPT = 100_000
"""Sequences whose returns a queue remembers; the oldest is forgotten beyond (then charged).

Also the most refusals of a run's writes it remembers (beyond, the oldest
message's dead letter would say its handler never finished).
"""

_ASKS_SWEPT_AT = 64
"""Asks a queue holds before it first drops those whose askers gave up (then 2x the live ones)."""

_BURIALS_KEPT = 10_000
"""Refused dead letters a queue remembers (each keeps its error); beyond, the oldest runs again."""


class EarlierStateRefused(Exception):
    """Why a store did not store a state: it was made from an older one that was not stored.

    The cause of the ``StoreRefused`` a delivering store fails such a batch
    with: the messages it acks are delivered again, uncharged (their runs
    did nothing wrong), once the instance's state is set back.
    """

    @classmethod
    def after(cls, older: BaseException | None) -> EarlierStateRefused:
        """The refusal of a state made from one whose batch failed with ``older``."""
        cause = None if older is None else (older.__cause__ or older)
        why = "" if cause is None else f": {_describe(cause)}"
        return cls(f"it was made from an older state of its actor, not stored{why}")


class ServedAppend(Append):
    """An append made through a ``ServedQueue``: with its dedup key and its ask token."""

    __slots__ = ("beyond", "key", "queue", "token")

    def __init__(
        self,
        queue: ServedQueue,
        encoded: EncodedMessage,
        msg_id: str | None,
        key: str | None,
        token: str | None,
        beyond: bool = False,
    ) -> None:
        # Append's fields, set here rather than through Append.__init__ (the hot path).
        self.mailbox = queue.name
        self.type_name = encoded.type_name
        self.payload = encoded.payload
        self.msg_id = msg_id
        self.dedup_until = None
        self.claim = False
        self.hint = None
        self.id = 0
        self.accepted = False
        # The queue that staged it (its reservation is released when it commits).
        self.queue = queue
        # The dedup key derived from the message whose handler sent it, or None
        # (then the sender's msg_id, or a key of the store's, is the dedup key).
        self.key = key
        # The token of the ask waiting in this process for its delivery, or None.
        self.token = token
        # Whether it is stored beyond the mailbox's capacity (a handler's send, a
        # system put: never refused for room, as on SQLite).
        self.beyond = beyond


class ServedQueue(DurableQueue):
    """A durable mailbox on a ``DeliveringStore``: the store pushes and redelivers its messages.

    The same ``Mailbox`` protocol and options as ``DurableQueue``, with these
    differences: ``capacity`` is kept by the store for every producer
    (``put`` waits while the store says the mailbox is full; a handler's
    sends and system puts are stored beyond it, as on SQLite); there is no
    recovery phase after a crash (what a dead process held is redelivered
    by the store once its ack is overdue, each message charged one
    delivery); an ``ask``'s reply reaches the asker only if the message is
    handled in this process.
    """

    def __init__(
        self,
        store: DeliveringStore,
        name: str,
        codec: MessageCodec,
        options: Durable | None = None,
        *,
        random: Random | None = None,
        on_dead_letter: Callable[[Delivery, str, BaseException | None], object] | None = None,
        on_failure: Callable[[BaseException], object] | None = None,
        on_refused: Callable[[object, StoreRefused], object] | None = None,
    ) -> None:
        if isinstance(options, Durable) and options.dedup_window is None:
            raise ValueError(
                f"the durable mailbox {name!r} asks for dedup_window=None (ids kept for good): "
                "a store that delivers itself keeps message ids for a window, "
                "give dedup_window in seconds"
            )
        if isinstance(options, Durable) and not fits_server_duration(options.dedup_window):
            # Refused here, before the server: it would refuse the stream's
            # duplicate_window, and a refused stream fails the whole store.
            raise ValueError(
                f"the durable mailbox {name!r} asks for dedup_window={options.dedup_window!r}: "
                "the longest a store that delivers itself keeps ids is 9223372036 s "
                "(JetStream's duplicate_window, int64 nanoseconds: about 292 years)"
            )
        super().__init__(
            store,
            name,
            codec,
            options,
            random=random,
            on_dead_letter=on_dead_letter,
            on_failure=on_failure,
            on_refused=on_refused,
        )
        # The store, as the delivering store it is.
        self._delivering = store
        # The deliveries held here (in items, being handled, or settling), by
        # sequence: the latest delivery of each, settled when its outcome is
        # durable. A redelivery of one held here is not handed over again.
        self._receipts: dict[int, Received] = {}
        # Retry endings seen by this process, by sequence (they are not failures). At
        # most ``_RETURNS_KEPT`` entries, the oldest forgotten first (one retried here
        # and then handled by another host is never seen settled here).
        self._retries: OrderedDict[int, int] = OrderedDict()
        # Deliveries this process gave back without running them (prefetched when
        # its actor stopped, or interrupted by the stop), by sequence: the server
        # counted each, the attempt does not. At most ``_RETURNS_KEPT`` entries
        # (one given back and handled elsewhere is never forgotten here).
        self._returned: OrderedDict[int, int] = OrderedDict()
        # Why the store refused the writes of each message's last run here, by
        # sequence: the reason of its dead letter if it comes back with its
        # deliveries used up. Dropped when it is handed over again (that run's
        # ending is then the last), acked or dead-lettered; at most
        # ``_RETURNS_KEPT`` entries.
        self._refused: OrderedDict[int, str] = OrderedDict()
        # Messages whose dead letter the store refused, by sequence: the reason and
        # error to dead-letter them with when they come back (they do not run
        # again). At most ``_BURIALS_KEPT`` entries.
        self._burials: OrderedDict[int, tuple[str, BaseException | None]] = OrderedDict()
        # When each message was first delivered here (wall seconds), by sequence: kept
        # while it may come back (nacked here). At most ``_RETURNS_KEPT`` entries, the
        # oldest forgotten first (its next delivery here is then its first).
        self._first_seen: OrderedDict[int, float] = OrderedDict()
        # Asks waiting in this process for their message, by token. One whose message
        # another host handles is never answered here: once its asker gave up (it is
        # abandoned), the next sweep drops it (see ``_stage_append``).
        self._asks: dict[str, Ask] = {}
        # The size of ``_asks`` at which the next ask sweeps it (>= _ASKS_SWEPT_AT).
        self._asks_swept_at = _ASKS_SWEPT_AT
        # Tokens are this prefix and a count: unique across processes sharing the mailbox.
        self._token_prefix = secrets.token_hex(6) + "-"
        self._tokens = 0
        # The long poll, while serving and open (closed with the queue: see ``close``).
        self._feed: Feed | None = None
        # Set when the queue is reopened or retired (``serve`` waits on it while closed).
        self._resumed = trio.Event()

    def __len__(self) -> int:
        """The mailbox's depth: its messages stored and not settled, and those staged here.

        The stored count is the store's figure (``DeliveringStore.depth``: on
        JetStream, the server's count at its last read, which is renewed
        about every second while it is asked for, with this process's own
        writes and settlements counted at once), never a round trip per
        call. Before the store has a figure, the deliveries held here.
        """
        stored = self._delivering.depth(self.name)
        if stored is None:
            stored = len(self._receipts)
        return stored + self._reserved

    # --- putting -------------------------------------------------------------------

    def _stage_append(
        self,
        batch: WriteBatch,
        message: object,
        encoded: EncodedMessage,
        msg_id: str | None,
        companion: Ask | None,
        key: str | None = None,
        *,
        beyond: bool = False,
    ) -> Append:
        if msg_id is not None and type(msg_id) is not str:
            _bad_msg_id(msg_id)  # before anything is counted
        if not beyond and not self.closed:
            # A tell to the mailbox hosted here: one too large for the store is refused
            # here, alone (in the batch the tells of this pass share, it would sink the
            # others' writes). A durable_ref's (closed) sender stages each in its own.
            self._delivering.check_tell(
                self.name, encoded.type_name, encoded.payload, msg_id, companion is not None
            )
        token = None
        if companion is not None:
            asks = self._asks
            if len(asks) >= self._asks_swept_at:
                # Drop the asks whose askers gave up: at most one sweep per as many
                # asks as it leaves, so each ask pays a constant share.
                self._asks = asks = {t: ask for t, ask in asks.items() if not ask.abandoned}
                self._asks_swept_at = max(_ASKS_SWEPT_AT, 2 * len(asks))
            self._tokens += 1
            token = f"{self._token_prefix}{self._tokens}"
            asks[token] = companion
        self._reserved += 1
        return batch.add(ServedAppend(self, encoded, msg_id, key, token, beyond))

    def put_system(self, item: object) -> None:
        """Add ``item`` however full the mailbox is (see ``DurableQueue.put_system``).

        A message is stored beyond the capacity the server enforces for tells.
        """
        cls = type(item)
        if cls is Terminated or cls is Exited:
            super().put_system(item)
            return
        self._check()
        message, msg_id, companion = _unwrap(item)
        encoded = self._codec.encode(message)
        batch = self._open_batch()
        self._stage_append(batch, message, encoded, msg_id, companion, beyond=True)
        if companion is not None:
            # Nobody waits for this commit but its asker (as ``put_nowait``).
            batch.after_failure(_answer_failure(companion))

    def appended(self, appends: Sequence[Append]) -> None:
        """Release the reservations of this queue's appends now durable, or refused."""
        for record in appends:
            if type(record) is ServedAppend and record.queue is self:
                self._reserved -= 1
        if self.producers:
            self.admit()

    def refused(self, refusals: Sequence[tuple[Append, StoreRefused]]) -> None:
        """Messages put here were refused alone: fail their asks, tell ``on_refused``."""
        for record, error in refusals:
            if type(record) is ServedAppend and record.queue is self and record.token is not None:
                companion = self._asks.pop(record.token, None)
                if companion is not None:
                    companion.settle(outcome.Error(_copy_refusal(error)))
            self._on_refused(self._refused_message(record), error)

    def store_failed(self, error: BaseException) -> None:
        """The store failed: as ``DurableQueue.store_failed``, and the feed's wait is woken.

        The asks waiting here for messages not handed to a handler get the
        failure too, not only those of prefetched deliveries: messages still
        in the stream (beyond the prefetch window, or nacked by ``Retry``) are
        not delivered here any more. An ask whose message is being handled or
        settling is its handler's to answer (as in ``close``).
        """
        if self._failure is not None:
            return
        prefetched = {item.id for item in self.items if type(item) is Delivery}
        taken = {
            received.ask
            for sequence, received in self._receipts.items()
            if sequence not in prefetched
        }
        super().store_failed(error)
        asks = self._asks
        self._asks = {token: ask for token, ask in asks.items() if token in taken}
        for token, ask in asks.items():
            if token not in taken:
                ask.settle(outcome.Error(copy_failure(error)))
        if self._feed is not None:
            self._feed.wake()

    # --- serving --------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the mailbox's feed and keep the prefetch window supplied until ``aclose``.

        Reports started once the store has the mailbox ready and the first
        poll is out. A feed that ends under it (its consumer deleted) is
        opened again; once the store failed or closed, it idles until closed.
        """
        self.store.attach(self.name, self)
        started = False
        try:
            while not self._detached:
                if self.closed:
                    # Stopped: no poll until reopened (see ``close``).
                    if not started:
                        started = True
                        task_status.started()
                    await self._resumed.wait()
                    self._resumed = trio.Event()
                    continue
                try:
                    feed = await self._delivering.open_feed(self.name, self.options, self._arrived)
                except (StoreFailed, trio.ClosedResourceError) as error:
                    # The store failed or closed, or refused the mailbox: the
                    # runtime learns it as any store failure (the first open's
                    # also fails the start that waits on it); then it idles.
                    if isinstance(error, StoreFailed):
                        self.store_failed(copy_failure(error))
                    self._halted = True
                    if not started:
                        raise
                    await trio.sleep_forever()
                self._feed = feed
                try:
                    self._supply(feed)
                    if not started:
                        started = True
                        task_status.started()
                    while not self._detached and not self.closed:
                        await feed.wait()
                        self._supply(feed)
                except (StoreFailed, trio.ClosedResourceError):
                    if self._feed is not feed and self._failure is None:
                        continue  # ``close`` ended the feed (the queue may be reopened already)
                    self._halted = True
                    await trio.sleep_forever()
                except Exception as error:
                    if self._failure is not None:
                        self._halted = True
                        await trio.sleep_forever()
                    if self._feed is not feed:
                        continue  # ``close`` ended the feed (the queue may be reopened already)
                    log.warning("%s: its feed ended (%s); opening it again", self.name, error)
                    await trio.sleep(1.0)
                finally:
                    self._feed = None
                    feed.close()
        finally:
            self.store.detach(self.name, self)

    def _supply(self, feed: Feed) -> None:
        if self.closed or self._failure is not None or self._halted or self._detached:
            return
        prefetch = self.options.prefetch
        requested = feed.requested
        room = prefetch - self._outstanding - requested
        if room > 0 and (requested == 0 or room >= prefetch // 2):
            feed.pull(room)

    def retire(self) -> None:
        """Stop ``serve`` and detach from the store now."""
        super().retire()
        if self._feed is not None:
            self._feed.wake()
        self._resumed.set()

    def _arrived(self, received: Received) -> None:
        """Take one delivery from the store (called by the store's reader task)."""
        if self.closed or self._failure is not None or self._halted:
            self._count_return(received.id)
            _settle_quietly(received.receipt.nak_nowait)
            return
        sequence = received.id
        receipts = self._receipts
        if sequence in receipts:
            # Delivered again while held here (its ack was late): keep the newer receipt.
            receipts[sequence] = received
            return
        receipts[sequence] = received
        now = trio.current_time()
        first_seen = self._first_seen
        first = first_seen.get(sequence)
        if first is None:
            first = first_seen[sequence] = wall_now()
            if len(first_seen) > _RETURNS_KEPT:
                first_seen.popitem(last=False)
        retries = self._retries.get(sequence, 0)
        companion = None if received.ask is None else self._asks.get(received.ask)
        attempt = received.deliveries
        if self._returned:
            returned = self._returned.get(sequence, 0)
            if returned >= attempt:
                # The server counts from 1 again (the mailbox's consumer was made again):
                # the returns remembered here were counted by the one before.
                del self._returned[sequence]
                returned = 0
            attempt -= returned
        if retries >= attempt:
            # The same for the Retry endings: each was one delivery of the consumer before.
            self._retries.pop(sequence, None)
            retries = 0
        used = attempt - 1 - retries
        if used >= self.options.max_deliveries or (self._burials and sequence in self._burials):
            burial = self._burials.pop(sequence, None) if self._burials else None
            message = None
            if burial is not None:
                # It ran already (its dead letter says so): decoded again for the
                # runtime's dead letter. One used up is not (it may be what kills).
                try:
                    message = self._codec.decode(received.type_name, received.payload)
                except Exception:
                    message = None
            delivery = self._delivery(received, attempt, message, retries, first, companion)
            delivery._delivered_at = now
            self._outstanding += 1
            reason, error = burial or self._used_up(sequence, used)
            self._bury(delivery, reason, error)
            return
        if self._refused:
            self._refused.pop(sequence, None)  # this run's ending is the last one now
        try:
            message = self._codec.decode(received.type_name, received.payload)
        except Exception as error:
            delivery = self._delivery(received, attempt, None, retries, first, companion)
            delivery._delivered_at = now
            self._outstanding += 1
            self._bury(delivery, _undecodable(received.type_name, error), error)
            return
        delivery = self._delivery(received, attempt, message, retries, first, companion)
        self._hand_over(delivery, now)

    def _hand_over(self, delivery: Delivery, now: float) -> None:
        """Queue ``delivery`` for the cell (``DurableQueue._hand_over`` without its ``_known``).

        That set serves the polled queue's reads of the store; here a message
        held is known by its receipt (``_receipts``), and nothing reads it.
        """
        delivery._delivered_at = now
        self.items.append(delivery)
        self._outstanding += 1
        if self._consumers:
            self._wake_one()

    def _used_up(self, sequence: int, used: int) -> tuple[str, None]:
        """The reason of the dead letter of ``sequence``, back with its deliveries used up.

        Used by runs whose writes the store refused, if the last one's was;
        else by runs that never finished.
        """
        refused = self._refused.pop(sequence, None) if self._refused else None
        if refused is not None:
            return (
                f"gave up after {used} deliveries: the store refused its last run's writes: "
                f"{refused}",
                None,
            )
        return (
            f"gave up after {used} deliveries: its handler never finished (the process "
            "stopped, or its ack did not come within ack_wait)",
            None,
        )

    def _delivery(
        self,
        received: Received,
        attempt: int,
        message: object,
        retries: int,
        first: float,
        companion: Ask | None,
    ) -> Delivery:
        return Delivery(
            self,
            message,
            received.id,
            received.msg_id,
            attempt,
            retries,
            first,
            companion,
            self._generation,
            received,  # a returned delivery is decoded anew from it
        )

    # --- settling -------------------------------------------------------------------

    def _holds_refused_run(self) -> bool:
        """Whether the actor's state in memory holds a run whose writes the store refused.

        That state is set back before the next delivery opens; a run handled
        meanwhile saves nothing (see ``settle``). The actors' layer, which keeps
        the state, answers (``ActorMailbox``); a queue without one holds none.
        """
        return False

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        """Record how a taken item ended (see ``DurableQueue.settle``); outputs before the ack.

        ``HANDLED``: the handler's sends (with keys derived from this
        message) and the actor's new state go in one batch; once it is
        durable the message is acked. A delivery of an older generation (its
        actor stopped meanwhile) is settled the same way in the store. Once
        the store has failed or closed, nothing is written, and ``Retry`` and
        ``GiveUp`` are still absorbed (``DurableQueue._settle_unwritable``).
        """
        if type(item) is not Delivery:
            self._settle_notice(ending)
            return False
        if self._failure is not None or self._halted:
            return self._settle_unwritable(item, ending, error)
        if ending is _HANDLED:
            current = item._generation == self._generation
            if current and self._stateful and self._holds_refused_run():
                # The store refused an older run's writes while this one went on: it began
                # from a state holding that run, which is set back before the next delivery
                # opens. Saved, its state would keep the refused run's effect, applied again
                # by its rerun: this run is given back, to run again (uncharged) from there.
                self._give_back(item.id)
                self._forget_ask(item)
                self._settled(item, current)
                return False
            if not current and self._changes_own_state(item):
                # The mailbox's state is the current generation's (saved, it would
                # also become what that generation rolls back to): the message
                # runs again against it, uncharged, as on SQLite.
                self._give_back(item.id)
                return False
            # A state that cannot be stored raises to the cell (see ``DurableQueue.settle``).
            state = self._state_data() if self._stateful and current else None
            sends = item._sends
            try:
                # Acks commit in the order they were made (see ``_ack_batch``).
                batch = self._ack_batch(sends is not None)
            except (StoreFailed, trio.ClosedResourceError):
                self._halted = True
                return False
            if sends is not None:
                # The sequence alone repeats in a mailbox stream made again (a new
                # message's sends would be dropped as an old one's copies, then the
                # message acked); its stored time does not, and is the same on every
                # delivery of the message: every rerun of it sends the same keys.
                received = item._encoded
                assert isinstance(received, Received)
                prefix = f"{self.name}/{item.id}/{received.enqueued_at!r}/"
                for index, (target, message, encoded, msg_id) in enumerate(sends):
                    key = None if msg_id is not None else f"{prefix}{index}"
                    if isinstance(target, ServedQueue):
                        # Beyond capacity: this message's ack, which makes room, waits for it.
                        target._stage_append(
                            batch, message, encoded, msg_id, None, key, beyond=True
                        )
                    else:
                        target._stage_append(batch, message, encoded, msg_id, None)
            if state is not None:
                batch.save_state(self.name, state)
                self._state, self._state_known = state, True
            if item._state is not None:
                key_name, data = item._state
                batch.save_state(self.name if key_name is None else key_name, data)
                if key_name is None:
                    self._state, self._state_known = data, True
            if item._after is not None:
                for callback in item._after:
                    batch.after_commit(callback)
            batch.after_commit(partial(self._ack, item.id))
            batch.after_failure(partial(self._commit_refused, item))
            self._forget_ask(item)
            self._settled(item, current)
            return False
        return self._settle_unhandled(item, ending, error)

    def _settle_unhandled(
        self, item: Delivery, ending: MailboxEnding, error: BaseException | None
    ) -> bool:
        """``settle`` for a ``FAILED`` or ``RETURNED`` delivery (see ``DurableQueue``).

        One taken before a ``close`` settles its message in the store as any
        other, but rolls nothing back: the actor's state in memory is the
        current generation's (the actors' layer's ``_roll_back``). With
        ``Retry``, a waiting ask gets ``ActorStopped``: the queue that
        redelivers the message does not know it.
        """
        if item._generation == self._generation:
            return super()._settle_unhandled(item, ending, error)
        try:
            if ending is _FAILED:
                absorbed = self._failed(item, error)
                ask = item.companion
                retry = isinstance(_decision_of(error), Retry)
                if retry and ask is not None and self.address is not None:
                    item.companion = None
                    ask.settle(outcome.Error(ActorStopped(self.address)))
                return absorbed
            self._returned_stale(item)
        except (StoreFailed, trio.ClosedResourceError):
            self._halted = True
        return False

    def _returned_stale(self, item: Delivery) -> None:
        """Its actor stopped meanwhile: the store delivers it again at once, uncharged."""
        self._give_back(item.id)

    def _give_back(self, sequence: int) -> None:
        """Release a delivery no handler ran to the end: redelivered at once, uncharged."""
        if sequence in self._receipts:
            self._count_return(sequence)
            self._nack(sequence, None)

    def _count_return(self, sequence: int) -> None:
        """Note that the server's next delivery of ``sequence`` is not a new attempt."""
        returned = self._returned
        returned[sequence] = returned.get(sequence, 0) + 1
        if len(returned) > _RETURNS_KEPT:
            returned.popitem(last=False)

    def _ack(self, sequence: int) -> None:
        received = self._receipts.pop(sequence, None)
        self._forget(sequence)
        if received is not None:
            _settle_quietly(received.receipt.ack_nowait)

    def _commit_refused(self, item: Delivery, error: BaseException) -> None:
        """A handled message's batch was refused (a send too large, say): deliver it again.

        Its outputs and ack were not stored, so the message is released to the
        server after the backoff's delay, as after a failure, instead of
        staying held here. The handler did not fail (its supervisor is not
        told), but the delivery counts toward ``max_deliveries``: a message
        whose runs are all refused is dead-lettered with the refusal
        (``_used_up``) rather than delivered for ever. A batch refused only
        because its state was made from an older refused one
        (``EarlierStateRefused``) is given back instead: delivered again at
        once, uncharged.
        """
        if isinstance(_refusal(error), EarlierStateRefused):
            # Refused for an older run's writes: this run is not charged, and runs again
            # at once (after the older one's refusal set the state back).
            log.info("%s: message %s is delivered again: %s", self.name, item.id, error)
            self._give_back(item.id)
            return
        refusal = _describe(_refusal(error))
        refused = self._refused
        refused[item.id] = refusal
        if len(refused) > _RETURNS_KEPT:
            refused.popitem(last=False)
        failures = max(1, item.attempt - item._retries)
        delay = retry_delay(self.options.backoff, failures, self._random)
        log.error(
            "%s: message %s is delivered again in %.3g s: the store refused its run's writes: %s",
            self.name,
            item.id,
            delay,
            refusal,
        )
        self._nack(item.id, delay)

    def _nack(self, sequence: int, delay: float | None) -> None:
        received = self._receipts.pop(sequence, None)
        if received is not None:
            _settle_quietly(partial(received.receipt.nak_nowait, delay=delay))

    def _forget_ask(self, item: Delivery) -> None:
        ask = item.companion
        if ask is None:
            return
        # Found by the token its message carries: no scan of every ask waiting here.
        received = self._receipts.get(item.id)
        token = None if received is None else received.ask
        if token is not None and self._asks.get(token) is ask:
            del self._asks[token]
            return
        for token, waiting in list(self._asks.items()):
            if waiting is ask:
                del self._asks[token]
                break

    def _settled(self, item: Delivery, current: bool) -> None:
        if not current:
            return
        self._outstanding -= 1
        if self.producers:
            self.admit()
        feed = self._feed
        if feed is not None and self._outstanding <= self.options.prefetch // 2:
            feed.wake()

    def _redeliver(
        self, item: Delivery, delay: float, *, retries: int, now: float, keep_ask: bool
    ) -> None:
        if retries > item._retries:
            kept = self._retries
            kept[item.id] = retries
            if len(kept) > _RETURNS_KEPT:
                kept.popitem(last=False)
        if not keep_ask:
            self._forget_ask(item)
        self._nack(item.id, delay)
        self._settled(item, item._generation == self._generation)

    def _bury(
        self, item: Delivery, reason: str, error: BaseException | None, *, notify: bool = True
    ) -> None:
        received = self._receipts.get(item.id)
        if received is None:  # settled already (cannot happen: each delivery settles once)
            self._settled(item, item._generation == self._generation)
            return
        text, first, last = _dead_letter_facts(item, error)
        batch = self._open_batch()
        self._delivering.bury(
            batch,
            self.name,
            received,
            reason=reason,
            traceback=text,
            deliveries=item.attempt,
            first_delivered_at=first,
            last_delivered_at=last,
        )
        batch.after_commit(partial(self._forget_buried, item.id))
        batch.after_failure(partial(self._burial_refused, item.id, reason, error))
        if notify:
            self._notify_dead_letter(batch, item, reason, error)
        self._forget_ask(item)
        self._settled(item, item._generation == self._generation)

    def _burial_refused(
        self, sequence: int, reason: str, error: BaseException | None, refusal: BaseException
    ) -> None:
        """The dead letter of ``sequence`` was refused: release it, to dead-letter it again later.

        Held here, it would be kept from redelivery for as long as the process
        lives, neither dead-lettered nor run. It comes back after the backoff's
        longest delay (the server counts a delivery) and is dead-lettered then,
        with this ``reason``, without running.
        """
        burials = self._burials
        burials[sequence] = (reason, error)
        if len(burials) > _BURIALS_KEPT:
            burials.popitem(last=False)
        delay = retry_delay(self.options.backoff, self.options.max_deliveries, self._random)
        log.error(
            "%s: message %s is dead-lettered again in %.3g s: its dead letter was refused: %s",
            self.name,
            sequence,
            delay,
            _describe(_refusal(refusal)),
        )
        self._nack(sequence, delay)

    def _forget_buried(self, sequence: int) -> None:
        self._receipts.pop(sequence, None)
        self._forget(sequence)

    def _forget(self, sequence: int) -> None:
        """Drop what is remembered of ``sequence`` besides its receipt (acked or dead-lettered)."""
        # Per message settled: the maps that are mostly empty are looked at only if not.
        if self._retries:
            self._retries.pop(sequence, None)
        if self._returned:
            self._returned.pop(sequence, None)
        self._first_seen.pop(sequence, None)
        if self._refused:
            self._refused.pop(sequence, None)
        if self._burials:
            self._burials.pop(sequence, None)

    # --- closing --------------------------------------------------------------------

    def close(self) -> list[object]:
        """Refuse puts, give back what was not taken (the store redelivers it at once).

        Asks waiting for messages not yet handled fail with ``ActorStopped``
        (returned instead when no cell is attached), except those of messages
        being handled, which their handlers answer; system notices that were
        waiting are returned; parked senders get False. Deliveries being
        handled settle in the store when their handlers end.
        """
        if self.closed:
            return []
        self.closed = True
        self._generation += 1
        feed, self._feed = self._feed, None
        if feed is not None:
            # Before giving anything back: a -NAK'd message goes at once to a pull
            # waiting at the server, and this feed's would hand it back here to be
            # given back again, each time counted as a delivery, until its
            # deliveries were used up. The server drops a pull nobody listens to.
            feed.close()
        returned: list[object] = []
        for item in self.items:
            if type(item) is Delivery:
                self._give_back(item.id)
                self._first_seen.pop(item.id, None)
            else:
                returned.append(item)
        self.items.clear()
        self._outstanding = 0
        # What is still held was taken (being handled, or settling): its ask is
        # its handler's to answer (as on SQLite); see ``_settle_unhandled``.
        taken = {received.ask for received in self._receipts.values()}
        asks = [ask for token, ask in self._asks.items() if token not in taken]
        self._asks.clear()
        self._turn_away(asks, returned)
        return returned

    def replacing(self, predecessor: DurableQueue) -> None:
        """Take over what ``predecessor`` (closed, same mailbox) counted in memory.

        Its ``Retry`` endings and the deliveries it gave back are not failures
        here either (an actor stopped and spawned again in this process).
        Nothing else is kept of it: ``serve`` has no claims of it to wait for
        (``DurableQueue``'s does), and a reference would chain every queue
        the mailbox ever had.
        """
        if isinstance(predecessor, ServedQueue):
            self._retries.update(predecessor._retries)
            self._returned.update(predecessor._returned)
            self._refused.update(predecessor._refused)
            self._burials.update(predecessor._burials)

    def reopen(self) -> None:
        """Accept puts again and resume pulling (a stopped child restarted)."""
        if not self.closed:
            return
        self.closed = False
        self._resumed.set()


_LONGEST_NANOS = 2**63 - 1
"""The longest duration the server holds (Go's ``time.Duration``, int64 nanoseconds)."""


def fits_server_duration(seconds: float | None) -> bool:
    """Whether ``seconds`` (None: no limit) fits the server's durations, rounded as sent."""
    return seconds is None or round(seconds * 1_000_000_000) <= _LONGEST_NANOS


def _settle_quietly(settle: Callable[[], None]) -> None:
    """Send an ack, nack or term; if it cannot be sent, the store redelivers after ``ack_wait``."""
    try:
        settle()
    except Exception as error:
        log.debug("a settlement could not be sent (%r); it will be redelivered", error)
