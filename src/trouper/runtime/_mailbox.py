"""Mailboxes: what a cell needs of the queue it consumes, and the in-memory one.

Theory of operation
-------------------
``Mailbox`` is the protocol a cell consumes through (``trouper.runtime.lowlevel``);
``MemoryMailbox`` implements it in memory, for one cell or for the cells of a
balancing pool, and a durable mailbox (``trouper.durable``) implements it on a
store.

Consumers are cells: a cell takes items straight from ``items`` (``popleft``)
and, when it finds the deque empty, ``register``s itself and parks. Producers
put with ``put_nowait`` (which never waits) or ``put`` (which parks the
sending task, holding its message, while the mailbox is full). When a
consumer finds the deque empty and ``producers`` is truthy, it calls ``admit``
before it parks (a settling consumer also after every take), and the mailbox
lets the parked messages in, oldest first, waking their senders. A closed
mailbox has no room: the put fast path needs no closed check.

Backpressure has hysteresis: once a sender parks, the in-memory mailbox
takes it back when its consumer has drained it, not at the first free
place; then every waiting sender comes in at once, up to ``size``. A fast
sender and its actor thus take turns a mailbox at a time, not a message at
a time: each turn is a park and a wake-up, and draining first makes them
as rare as a greedy raw channel's. Meanwhile ``capacity`` is 0, so the put
fast path refuses, and a put that finds room in the slow path lets the
waiting senders in first, then itself if room is left: nobody jumps their
queue, and a put with room never waits (a handler telling its own busy
actor does not deadlock on a mailbox that is not full). The waiting order
is kept, and so is the bound.

Every put wakes one parked consumer. A consumer woken for another reason (a
command) ``forget``s itself first, and one that leaves without taking the
message it was woken for passes the wake-up on, so when several cells share
a mailbox (a balancing pool's members) no message waits while a consumer is
parked.

System messages (``Terminated``, ``Exited``) skip the capacity check: a
watcher must learn of a death even when its mailbox is full.

How each message ended: a mailbox whose ``settles`` is true is told, once per
item the cell took, whether its handler returned (``HANDLED``), raised
(``FAILED``, with the error), or never finished because the instance
restarted or stopped (``RETURNED``): a durable mailbox acknowledges,
redelivers with a backoff, or keeps the message accordingly. The in-memory
mailbox does not settle, and cells then skip the call altogether. A mailbox
whose ``durable`` is true holds a told message only once ``put`` has
returned: ``tell`` always awaits ``put`` there, while ``put_nowait`` only
stages the message for the mailbox's next commit.

Nothing here knows about dead letters or asks; the cell decides what a
closed mailbox means for each message.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import TYPE_CHECKING, ClassVar, Protocol

from outcome import Value
from trio.lowlevel import (
    Abort,
    Task,
    cancel_shielded_checkpoint,
    current_task,
    reschedule,
    wait_task_rescheduled,
)

from trouper.runtime._ask import Ask
from trouper.runtime._envelopes import message_of

if TYPE_CHECKING:
    from trouper.actors import Actor
    from trouper.runtime._cell import Cell

__all__ = ["Consumer", "Mailbox", "MailboxEnding", "MemoryMailbox"]


class Consumer(Protocol):
    """A cell, as a mailbox sees it: something to wake when mail arrives."""

    def wake(self) -> None:
        """Resume the consumer, which has parked itself on the mailbox."""


class MailboxEnding(enum.Enum):
    """How a message a cell took from its mailbox ended."""

    HANDLED = "handled"
    """Its handler returned (an ask's ``Reject`` counts: the handler returned)."""
    FAILED = "failed"
    """Its handler raised; the error is given with it."""
    RETURNED = "returned"
    """Its handler never finished: the instance restarted or stopped (it was cancelled)."""


class Mailbox(Protocol):
    """What a cell needs of the mailbox it consumes (in memory, shared, or durable)."""

    items: deque[object]
    """What is ready to be handled, in order; the consumer ``popleft()``s from it."""
    size: float
    """The capacity in messages (``math.inf`` for none)."""
    closed: bool
    """Whether the mailbox refuses new messages (its actor stops or has stopped for good)."""
    settles: ClassVar[bool]
    """Whether the cell must ``settle`` every item it takes."""
    durable: ClassVar[bool]
    """Whether a told message is held only once ``put`` returned (``tell`` awaits it)."""

    def __len__(self) -> int:
        """The number of messages waiting (what trees show as the mailbox depth)."""
        ...

    @property
    def full(self) -> bool:
        """Whether ``put_nowait`` would refuse a message now for want of room."""
        ...

    @property
    def producers(self) -> object:
        """Truthy while senders wait for room: ``admit`` is then due when ``items`` is empty.

        A consumer that finds ``items`` empty calls ``admit`` before it parks; a
        settling consumer also calls it after every take.
        """
        ...

    def put_nowait(self, item: object) -> bool:
        """Put ``item`` if there is room and wake a consumer; return whether it was put."""
        ...

    async def put(self, item: object) -> bool:
        """Park until ``item`` fits, then put it; ``False`` if the mailbox closed meanwhile."""
        ...

    def put_system(self, item: object) -> None:
        """Append a system message however full the mailbox is (not when closed)."""
        ...

    def admit(self) -> None:
        """Let waiting senders' messages in, oldest first, if the mailbox is ready for them."""
        ...

    def register(self, consumer: Consumer) -> None:
        """Have ``consumer`` woken by the next put; it parks itself right after."""
        ...

    def forget(self, consumer: Consumer) -> None:
        """Unregister a parked consumer that was woken by something else."""
        ...

    def close(self) -> list[object]:
        """Refuse further items; return the queued ones that are the caller's to report.

        A cell calls it once its actor's stop for good is over; a cell that
        owns a mailbox that neither settles nor is durable calls it already
        when the stop begins (its last handler may still be running), so such
        a mailbox must take a second call, which returns what it holds then
        (nothing, as it refuses items).
        """
        ...

    def reopen(self) -> None:
        """Accept items again (a stopped child started anew from its spec)."""
        ...

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        """Learn how a taken item ended (called only when ``settles`` is true).

        Returns whether the mailbox absorbed a failure: the error was a request
        about the message (a retry), not a failure of the actor, which then
        goes on serving without reporting it to its supervisor. ``HANDLED``
        may raise an ``Exception``, having settled nothing: what the handler
        did cannot be committed, and the cell settles the item ``FAILED`` with
        that error, as if the handler had raised it. ``FAILED`` with no error
        means no handler takes the message: the mailbox owns its dead letter
        (the cell posts none).
        """
        ...

    def open_item(self, item: object) -> tuple[object, Ask | None, object]:
        """The message in ``item``, its ask (if one waits), and its delivery (or None).

        Called only when ``settles`` is true. The delivery is what
        ``ctx.delivery`` shows while the handler runs; if it has a ``stage``
        method (a ``Transaction``), the handler's sends are staged in it.
        """
        ...

    def attach(self, cell: Cell) -> None:
        """Meet the cell that consumes this mailbox (once, when the cell is made)."""
        ...

    async def prepare(self, instance: Actor) -> None:
        """Ready a new instance before its ``on_start`` (a durable mailbox loads its state)."""
        ...


class MemoryMailbox:
    """A bounded FIFO of messages in memory, consumed by one cell (or a pool's cells)."""

    __slots__ = ("capacity", "closed", "consumers", "items", "producers", "size", "withdrawn")

    settles: ClassVar[bool] = False
    durable: ClassVar[bool] = False

    def __init__(self, size: float) -> None:
        self.items: deque[object] = deque()
        # Messages (and asks) waiting, oldest first.
        self.size = size
        # The capacity asked for (>= 1 or math.inf); never changes.
        self.capacity = size
        # The room the put fast path checks: ``size``, or 0 once closed or while
        # senders wait (until it has drained: see ``admit``).
        self.closed = False
        # Whether the mailbox refuses new items (its actor stops or stopped for good).
        self.consumers: Consumer | dict[Consumer, None] | None = None
        # The parked consumer (one cell: the usual case, no dict), or the parked consumers
        # in the order they parked (a shared mailbox), or None / empty when none is parked.
        self.producers: dict[Task, object] | None = None
        # Parked senders and their messages, oldest first; None or empty when none (read
        # by the consumer when it empties the deque: a plain attribute, not a property).
        self.withdrawn = 0
        # Asks withdrawn (their askers cancelled) since the last sweep, some perhaps still
        # in ``items``: nonzero, a put that finds no room sweeps them out first.

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"<MemoryMailbox {len(self.items)}/{self.size}{' closed' if self.closed else ''}>"

    @property
    def full(self) -> bool:
        """Whether ``put_nowait`` would refuse a message now: senders waiting for room go first."""
        producers = self.producers
        if len(self.items) + (len(producers) if producers else 0) < self.size:
            return False
        if self.withdrawn:  # (only when full: a withdrawn ask may hold a place)
            self._sweep_withdrawn()
        return len(self.items) + (len(producers) if producers else 0) >= self.size

    def put_nowait(self, item: object) -> bool:
        """Append ``item`` if there is room and wake a consumer; return whether it was put.

        Senders waiting for room go first: if there is room while some wait,
        they are let in (oldest first), then ``item`` if room is left.
        """
        items = self.items
        if len(items) >= self.capacity and not self._room_after_waiting():
            return False
        items.append(item)
        if self.consumers:
            try:
                self.wake_one()
            except BaseException:
                # Waking needs the runtime's Trio run (the caller is outside it): the
                # item was never queued, and the parked consumer stays registered.
                items.pop()
                raise
        return True

    def put_system(self, item: object) -> None:
        """Append ``item`` however full the mailbox is (system messages only; not when closed)."""
        self.items.append(item)
        if self.consumers:
            self.wake_one()

    async def put(self, item: object) -> bool:
        """Park the calling task until ``item`` fits, then put it.

        Returns ``True`` once the item is in the mailbox, ``False`` if the
        mailbox was closed while waiting (the item was not put). If
        cancelled, the item was not put.
        """
        if self.put_nowait(item):
            await cancel_shielded_checkpoint()
            return True
        if self.closed:
            await cancel_shielded_checkpoint()
            return False
        task = current_task()
        producers = self.producers
        if producers is None:
            producers = self.producers = {}
        producers[task] = item
        self.capacity = 0  # full until drained: no put jumps the waiting senders' queue

        def abort(_: object) -> Abort:
            del producers[task]
            if not producers and not self.closed:
                self.capacity = self.size
            return Abort.SUCCEEDED

        return bool(await wait_task_rescheduled(abort))

    def admit(self) -> None:
        """Once the mailbox has drained, let the waiting senders' items in, oldest first.

        Up to ``size`` of them; any left keep waiting for the next drain, and
        the mailbox takes puts again once none is left. Before it has
        drained this does nothing: that is the hysteresis (a put that finds
        room lets them in earlier, see ``put_nowait``).
        """
        if self.producers and not self.items:
            self._let_in()
        if self.items and self.consumers:
            self.wake_one()

    def ask_withdrawn(self) -> None:
        """An ask put here was withdrawn (its asker was cancelled): give its room back.

        The ask, if still queued, is skipped when met; until then it would hold
        a place a tell could take, and show in the mailbox's depth. Withdrawn
        asks are swept out of ``items`` once they may be half of it, and
        whenever a put finds no room: each sweep reads the deque once, so a
        burst of withdrawals costs time in proportion to it, not its square,
        and no put pays for any of it while there is room.
        """
        self.withdrawn += 1
        if self.withdrawn * 2 >= len(self.items):
            self._sweep_withdrawn()

    def _sweep_withdrawn(self) -> None:
        self.withdrawn = 0
        items = self.items
        kept = [item for item in items if type(item) is not Ask or not item.abandoned]
        if len(kept) < len(items):
            # In place: the consumer's serving loop holds this very deque.
            items.clear()
            items.extend(kept)

    def _room_after_waiting(self) -> bool:
        """Room while senders wait: let them in first; whether room is left for one more.

        Withdrawn asks still queued are swept out first (``ask_withdrawn``).
        """
        if self.withdrawn:
            self._sweep_withdrawn()
            if not self.producers:
                return len(self.items) < self.capacity
        if not self.producers or len(self.items) >= self.size:
            return False  # full, or closed (closing let every waiting sender go)
        self._let_in()
        return len(self.items) < self.capacity

    def _let_in(self) -> None:
        producers = self.producers
        assert producers is not None
        items = self.items
        size = self.size
        while producers and len(items) < size:
            task = next(iter(producers))
            # Woken first: outside the Trio run this raises with nothing moved.
            reschedule(task, Value(True))
            items.append(producers.pop(task))
        if not producers and not self.closed:
            self.capacity = size

    def register(self, consumer: Consumer) -> None:
        """Have ``consumer`` woken by the next put; it parks itself right after."""
        consumers = self.consumers
        if consumers is None or consumers is consumer:
            self.consumers = consumer
        elif type(consumers) is dict:
            consumers[consumer] = None
        else:  # a second consumer parks: a shared mailbox
            self.consumers = {consumers: None, consumer: None}  # type: ignore[dict-item]

    def forget(self, consumer: Consumer) -> None:
        """Unregister a parked consumer that was woken by something else."""
        consumers = self.consumers
        if consumers is consumer:
            self.consumers = None
        elif type(consumers) is dict:
            consumers.pop(consumer, None)

    def pass_wakeup(self) -> None:
        """Wake another parked consumer if items wait (a consumer left without taking)."""
        if self.items and self.consumers:
            self.wake_one()

    def wake_one(self) -> None:
        # Wake first, forget after: a wake that fails leaves the consumer registered.
        consumers = self.consumers
        if type(consumers) is dict:
            consumer: Consumer = next(iter(consumers))
            consumer.wake()
            del consumers[consumer]
        else:
            assert consumers is not None
            consumers.wake()  # type: ignore[union-attr]
            self.consumers = None

    def close(self) -> list[object]:
        """Refuse further items; return the queued ones (the caller decides their fate).

        Producers still waiting are woken with "not put": each deals with its
        own item (``put`` returns ``False``).
        """
        self.closed = True
        self.capacity = 0
        queued = list(self.items)
        self.items.clear()
        if self.producers:
            for task in self.producers:
                reschedule(task, Value(False))
            self.producers.clear()
        return queued

    def reopen(self) -> None:
        """Accept items again (a stopped child started anew from its spec)."""
        self.closed = False
        self.capacity = self.size

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        """Nothing to do in memory: an item taken is gone (``settles`` is false)."""
        return False

    def open_item(self, item: object) -> tuple[object, Ask | None, object]:
        """The message in ``item`` and its ask; in memory there is no delivery."""
        if type(item) is Ask:
            return item.message, item, None
        return message_of(item), None, None

    def attach(self, cell: Cell) -> None:
        """Nothing to remember in memory."""

    async def prepare(self, instance: Actor) -> None:
        """Nothing to load in memory."""
