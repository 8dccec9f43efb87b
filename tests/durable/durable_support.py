"""Helpers for the durable tests: a text codec, a taker acting as a cell, a served queue, actors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from random import Random
from typing import Any

import attrs
import trio

import trouper
from trouper.durable import (
    Delivery,
    Durable,
    DurableQueue,
    Retry,
    SqliteStore,
    Store,
    WriteBatch,
)
from trouper.runtime.lowlevel import MailboxEnding


@attrs.frozen
class Encoded:
    """A message as bytes with its type's name."""

    type_name: str
    payload: bytes


class TextCodec:
    """Strings as UTF-8; a type named ``broken`` never decodes (a payload that no longer fits)."""

    def encode(self, message: object) -> Encoded:
        if isinstance(message, str):
            return Encoded("str", message.encode())
        if isinstance(message, bytes):
            return Encoded("broken", message)
        raise TypeError(f"cannot encode {type(message).__name__}")

    def decode(self, type_name: str, payload: bytes) -> object:
        if type_name == "str":
            return payload.decode()
        raise ValueError(f"no message type named {type_name!r}")


CODEC = TextCodec()


def make_store(path: Path, **options: Any) -> SqliteStore:
    """A store for tests: ``synchronous=normal`` (no fsync per commit) unless told otherwise."""
    options.setdefault("synchronous", "normal")
    return SqliteStore(path, **options)


class Taker:
    """Takes deliveries from a queue as a cell does: pop, park when empty, admit senders."""

    def __init__(self) -> None:
        self.woken = trio.Event()

    def wake(self) -> None:
        self.woken.set()

    async def take(self, queue: DurableQueue) -> Delivery:
        while not queue.items:
            self.woken = trio.Event()
            queue.register(self)
            try:
                await self.woken.wait()
            finally:
                queue.forget(self)
        item = queue.items.popleft()
        if queue.producers:
            queue.admit()
        assert isinstance(item, Delivery)
        return item

    async def handle(self, queue: DurableQueue) -> Delivery:
        """Take the next delivery and settle it as handled."""
        delivery = await self.take(queue)
        queue.settle(delivery, MailboxEnding.HANDLED, None)
        return delivery

    async def fail(self, queue: DurableQueue, error: BaseException) -> Delivery:
        """Take the next delivery and settle it as failed with ``error``."""
        delivery = await self.take(queue)
        queue.settle(delivery, MailboxEnding.FAILED, error)
        return delivery


@asynccontextmanager
async def serving(
    store: Store,
    name: str = "box",
    options: Durable | None = None,
    *,
    seed: int = 0,
    **kwargs: Any,
) -> AsyncIterator[DurableQueue]:
    """A queue on ``store``, served until the block ends, then closed."""
    queue = DurableQueue(store, name, CODEC, options, random=Random(seed), **kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(queue.serve)
        try:
            yield queue
        finally:
            queue.close()
            await queue.aclose()


async def drain(queue: DurableQueue, store: Store) -> list[str]:
    """Handle everything the queue holds now (after a flush); return the messages in order."""
    await store.flush()
    taker = Taker()
    seen: list[str] = []
    while queue.items:
        delivery = await taker.handle(queue)
        seen.append(str(delivery.message))
    await store.flush()
    return seen


# --- actors ---------------------------------------------------------------------------


@trouper.message("test.durable.place")
@attrs.frozen
class Place:
    """An order to place (the first actor of a pipeline gets it)."""

    order_id: str
    total: int


@trouper.message("test.durable.charge")
@attrs.frozen
class Charge:
    """A charge to record (the second actor gets it from the first one's handler)."""

    order_id: str
    total: int


@attrs.define
class Ledger:
    """Durable state: what was charged, by order."""

    charged: dict[str, int] = attrs.Factory(dict)


class Billing(trouper.Actor):
    """Records each charge in its durable state; a total over 1000 waits once (``Retry``)."""

    state: Ledger

    def __init__(self, seen: list[tuple[str, int]] | None = None) -> None:
        self.seen = seen if seen is not None else []

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.seen.append((message.order_id, delivery.attempt))
        if delivery.attempt == 1 and message.total > 1000:
            raise Retry(after=5.0)
        self.state.charged[message.order_id] = message.total


class ChargeSink(trouper.Actor):
    """Records each charge it is told."""

    def __init__(self, got: list[object]) -> None:
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.got.append(message)


class OrderIds(trouper.Actor):
    """Records the order id of each charge it handles."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.seen.append(message.order_id)


class Orders(trouper.Actor):
    """Charges each order it is told, from its handler (the send commits with the ack)."""

    def __init__(self, billing: trouper.ActorRef[object]) -> None:
        self.billing = billing

    @trouper.handler
    async def place(self, message: Place) -> None:
        if message.total <= 0:
            raise ValueError("empty order")
        await self.billing.tell(Charge(message.order_id, message.total))


def sqlite(path: Path, **options: Any) -> SqliteStore:
    """A store for actor tests (``synchronous=normal``)."""
    return make_store(path, **options)


class GatedStore:
    """A store passed through, except what a subclass holds at ``gate`` once ``hold`` is set.

    ``held`` is set when an operation is held; setting ``gate`` lets it go on.
    Tests use it to land one commit before another deterministically.
    """

    def __init__(self, store: SqliteStore) -> None:
        # The store wrapped.
        self.inner = store
        self.hold = False
        self.held = trio.Event()
        self.gate = trio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class HeldWrites(GatedStore):
    """A store whose batches staged while ``hold`` is set reach it only at ``release()``.

    So a read made meanwhile commits before them, as a fetch may in one group
    commit of ``SqliteStore`` (fetches go first). Opened and closed with
    ``async with`` as the store it wraps.
    """

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.staged: list[WriteBatch] = []

    async def __aenter__(self) -> HeldWrites:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)

    def stage(self, batch: WriteBatch) -> None:
        if self.hold:
            self.staged.append(batch)
        else:
            self.inner.stage(batch)

    def release(self) -> None:
        self.hold = False
        for batch in self.staged:
            self.inner.stage(batch)
        self.staged.clear()
