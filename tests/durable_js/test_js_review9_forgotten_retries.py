"""Review: what a served mailbox remembers of messages that another host then handled."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import trio
import trio.testing

from trouper.codec import Codec
from trouper.durable import Durable, Received, Retry, ServedQueue
from trouper.runtime.lowlevel import MailboxEnding

WARM = 110_000
"""Messages retried here before memory is measured: more than a queue remembers."""
MORE = 50_000
"""Messages retried here while memory is measured."""


class Receipt:
    """A delivery's settlement, sent nowhere."""

    def ack_nowait(self) -> None:
        pass

    def nak_nowait(self, *, delay: float | None = None) -> None:
        pass

    def term_nowait(self, *, reason: str | None = None) -> None:
        pass


class Feed:
    """A long poll that brings nothing by itself."""

    requested = 0

    def __init__(self) -> None:
        self.woken = trio.Event()

    def pull(self, batch: int) -> None:
        pass

    def wake(self) -> None:
        self.woken.set()

    async def wait(self) -> None:
        await self.woken.wait()
        self.woken = trio.Event()

    def close(self) -> None:
        self.woken.set()


class Store:
    """A delivering store whose deliveries the test makes (``deliver``)."""

    redelivers = True

    def __init__(self) -> None:
        self.deliver: Callable[[Received], object] | None = None
        self.feed = Feed()

    def attach(self, mailbox: str, listener: object) -> None:
        pass

    def detach(self, mailbox: str, listener: object) -> None:
        pass

    def depth(self, mailbox: str) -> int | None:
        return None

    async def open_feed(
        self, mailbox: str, options: object, deliver: Callable[[Received], object]
    ) -> Feed:
        self.deliver = deliver
        return self.feed


async def test_retried_messages_handled_elsewhere_are_not_remembered_for_ever() -> None:
    """Memory held for messages retried here and never seen again (another host handled them).

    Each kept its ``Retry`` count and the time it was first delivered here for
    the life of the queue, and every message ever handed over (handled here
    or not) kept its sequence in the polled queue's set of held ids, which
    only the polled queue emptied: a shared mailbox's long-lived host grew
    without bound. The first two are now kept for as many messages as the
    deliveries given back, the last one only while the message is held.
    """
    store = Store()
    queue = ServedQueue(store, "jobs", Codec(), Durable())  # type: ignore[arg-type]
    receipt = Receipt()
    payload = Codec().encode(1).payload

    def retry(sequence: int) -> None:
        assert store.deliver is not None
        store.deliver(Received(sequence, "int", payload, None, 1, 0.0, None, receipt))
        item = queue.items.popleft()
        queue.settle(item, MailboxEnding.FAILED, Retry(after=1.0))

    async with trio.open_nursery() as nursery:
        await nursery.start(queue.serve)
        tracemalloc.start()  # from the first message: what is forgotten is seen freed
        try:
            for sequence in range(1, WARM + 1):
                retry(sequence)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for sequence in range(WARM + 1, WARM + MORE + 1):
                retry(sequence)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        queue.retire()
    assert grown < 1_000_000
