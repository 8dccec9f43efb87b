"""Mailboxes: bounded FIFO queues between senders and the cells that consume them.

Theory of operation
-------------------
A mailbox is a deque plus the parked consumers and producers. Consumers are
cells: a cell takes messages straight from ``items`` (``popleft``) and, when
it finds the deque empty, ``register``s itself and parks. Producers put with
``put_nowait`` (which never waits) or ``put`` (which parks the sending task,
holding its message, while the mailbox is full). Whenever a consumer takes a
message it calls ``admit`` if producers are parked, which moves the oldest
parked message into the deque and wakes its sender, so waiting senders keep
their order. A closed mailbox has no room: the put fast path needs no
closed check.

Every put wakes one parked consumer. A consumer woken for another reason (a
command) ``forget``s itself first, and one that leaves without taking the
message it was woken for passes the wake-up on, so when several cells share
a mailbox (a balancing pool's members) no message waits while a consumer is
parked.

System messages (``Terminated``, ``Exited``) skip the capacity check: a
watcher must learn of a death even when its mailbox is full.

Nothing here knows about dead letters or asks; the cell decides what a
closed mailbox means for each message.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from outcome import Value
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

__all__ = ["Consumer", "Mailbox"]


class Consumer(Protocol):
    """A cell, as a mailbox sees it: something to wake when mail arrives."""

    def wake(self) -> None:
        """Resume the consumer, which has parked itself on the mailbox."""


class Mailbox:
    """A bounded FIFO of messages, consumed by one cell (or a pool's cells)."""

    __slots__ = ("_consumers", "_producers", "capacity", "closed", "items", "size")

    def __init__(self, size: float) -> None:
        self.items: deque[object] = deque()
        self.size = size
        # A closed mailbox has no room, so the put fast path needs no closed check.
        self.capacity = size
        self.closed = False
        self._consumers: dict[Consumer, None] = {}
        self._producers: dict[Task, object] = {}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def full(self) -> bool:
        """Whether a ``put_nowait`` would be refused."""
        return len(self.items) >= self.capacity

    def put_nowait(self, item: object) -> bool:
        """Append ``item`` if there is room and wake a consumer; return whether it was put."""
        items = self.items
        if len(items) >= self.capacity:
            return False
        items.append(item)
        if self._consumers:
            self._wake_one()
        return True

    def put_system(self, item: object) -> None:
        """Append ``item`` however full the mailbox is (system messages only; not when closed)."""
        self.items.append(item)
        if self._consumers:
            self._wake_one()

    async def put(self, item: object) -> bool:
        """Park the calling task until ``item`` fits, then put it.

        Call only after ``put_nowait`` refused. Returns ``True`` once the item
        is in the mailbox, ``False`` if the mailbox was closed while waiting
        (the item was not put). If cancelled, the item was not put.
        """
        task = current_task()
        self._producers[task] = item

        def abort(_: object) -> Abort:
            del self._producers[task]
            return Abort.SUCCEEDED

        return bool(await wait_task_rescheduled(abort))

    def admit(self) -> None:
        """Move waiting producers' items in while there is room (call after taking items)."""
        producers = self._producers
        items = self.items
        while producers and len(items) < self.capacity:
            task = next(iter(producers))
            items.append(producers.pop(task))
            reschedule(task, Value(True))
        if items and self._consumers:
            self._wake_one()

    def register(self, consumer: Consumer) -> None:
        """Have ``consumer`` woken by the next put; it parks itself right after."""
        self._consumers[consumer] = None

    def forget(self, consumer: Consumer) -> None:
        """Unregister a parked consumer that was woken by something else."""
        self._consumers.pop(consumer, None)

    def _wake_one(self) -> None:
        consumer = next(iter(self._consumers))
        del self._consumers[consumer]
        consumer.wake()

    def close(self) -> list[object]:
        """Refuse further items; return the queued ones (the caller decides their fate).

        Producers still waiting are woken with "not put": each deals with its
        own item (``put`` returns ``False``).
        """
        self.closed = True
        self.capacity = 0
        queued = list(self.items)
        self.items.clear()
        for task in self._producers:
            reschedule(task, Value(False))
        self._producers.clear()
        return queued

    def reopen(self) -> None:
        """Accept items again (a stopped child started anew from its spec)."""
        self.closed = False
        self.capacity = self.size
