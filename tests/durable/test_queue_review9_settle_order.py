"""Acks settled one after another commit in that order, whichever of them carry sends."""

from __future__ import annotations

import functools
from pathlib import Path

from durable_support import Taker, make_store, serving

from trouper.durable import Delivery, DurableQueue
from trouper.runtime.lowlevel import MailboxEnding


async def _settle_three(
    queue: DurableQueue, other: DurableQueue, released: list[int] | None = None
) -> None:
    """Handle three deliveries: the first and last send to ``other``, the middle one does not.

    Each saves its number as the mailbox's state and releases it (an in-memory
    send's outbox) once its ack has committed.
    """
    taker = Taker()
    deliveries: list[Delivery] = [await taker.take(queue) for _ in range(3)]
    for n, delivery in enumerate(deliveries):
        if n != 1:
            delivery.send(other, f"sent by m{n}")
        delivery.save_state(str(n).encode())
        if released is not None:
            delivery.after_commit(functools.partial(released.append, n))
        queue.settle(delivery, MailboxEnding.HANDLED, None)


async def test_the_state_saved_is_the_last_handlers(tmp_path: Path) -> None:
    """A handler without sends between two with sends does not leave its older state saved."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "a") as queue,
        serving(store, "x") as other,
    ):
        for n in range(3):
            assert queue.put_nowait(f"m{n}")
        await store.flush()  # their batch is committed: the middle ack opens a new one
        await _settle_three(queue, other)
        await store.flush()
        saved = await store.load_state("a")
    assert saved == b"2"


async def test_in_memory_sends_are_released_in_the_order_their_handlers_ended(
    tmp_path: Path,
) -> None:
    """The outbox keeps the order of the acks, with durable sends or without."""
    released: list[int] = []
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "a") as queue,
        serving(store, "x") as other,
    ):
        for n in range(3):
            assert queue.put_nowait(f"m{n}")
        await store.flush()
        await _settle_three(queue, other, released)
        await store.flush()
    assert released == [0, 1, 2]
