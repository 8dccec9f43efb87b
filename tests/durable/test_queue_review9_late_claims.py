"""A close is a clean stop even when a handler's send claimed for the mailbox commits after it."""

from __future__ import annotations

from pathlib import Path
from random import Random

import trio
import trio.testing
from durable_support import CODEC, Taker, make_store, serving

from trouper.durable import Delivery, Durable, DurableQueue, SqliteStore
from trouper.runtime.lowlevel import MailboxEnding

OPTIONS = Durable(max_deliveries=1)


async def _close_with_a_claim_in_a_later_group(
    store: SqliteStore, orders: DurableQueue, filler: DurableQueue, billing: DurableQueue
) -> None:
    """Close ``billing`` while a send claimed for it waits in a batch a later group takes."""
    assert await orders.put("place")
    placed = await Taker().take(orders)
    assert billing.put_nowait("b1")  # billing's batch is staged first
    for n in range(2100):
        assert filler.put_nowait(f"f{n}")  # a group stops near 2000 rows
    placed.send(billing, "m1")  # handed over at its commit (billing is live): claimed
    orders.settle(placed, MailboxEnding.HANDLED, None)  # m1 in the ack's batch, after them
    billing.close()  # its release goes in billing's own batch, in the first group


async def _handle_two(queue: DurableQueue) -> list[tuple[object, int]]:
    taker = Taker()
    seen: list[tuple[object, int]] = []
    with trio.move_on_after(60):
        for _ in range(2):
            delivery: Delivery = await taker.handle(queue)
            seen.append((delivery.message, delivery.attempt))
    return seen


async def test_a_reopened_queue_charges_nothing_for_a_send_claimed_before_its_close(
    tmp_path: Path,
) -> None:
    """Neither message ran: both come back as first deliveries, none is a dead letter."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "orders") as orders,
        serving(store, "filler") as filler,
        serving(store, "billing", OPTIONS) as billing,
    ):
        await _close_with_a_claim_in_a_later_group(store, orders, filler, billing)
        billing.reopen()
        seen = await _handle_two(billing)
        dead = [record.reason async for record in store.dead_letters()]
    assert seen == [("b1", 1), ("m1", 1)]
    assert dead == []


async def test_a_replacing_queue_charges_nothing_for_a_send_claimed_before_the_close(
    tmp_path: Path,
) -> None:
    """The queue an actor spawned again opens the mailbox as the clean stop left it."""
    async with (
        make_store(tmp_path / "s.db") as store,
        serving(store, "orders") as orders,
        serving(store, "filler") as filler,
        serving(store, "billing", OPTIONS) as billing,
    ):
        await _close_with_a_claim_in_a_later_group(store, orders, filler, billing)
        again = DurableQueue(store, "billing", CODEC, OPTIONS, random=Random(0))
        billing.retire()  # as a spawn under the same name does
        again.replacing(billing)
        async with trio.open_nursery() as nursery:
            await nursery.start(again.serve)
            seen = await _handle_two(again)
            again.close()
            await again.aclose()
        dead = [record.reason async for record in store.dead_letters()]
    assert seen == [("b1", 1), ("m1", 1)]
    assert dead == []
