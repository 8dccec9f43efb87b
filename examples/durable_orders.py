"""Durable orders: messages kept in SQLite, charged once, retried, dead-lettered, state that lasts.

Two durable actors share one store file. Each order is told once it is on
disk; a duplicate (same msg_id) is dropped; an empty order fails five times
(each failure restarts ``Orders``, with a backoff between deliveries) and
lands in the dead-letter queue; a large charge asks for a retry once. The
charge an order sends is committed with the order's acknowledgement, and the
ledger (``Billing``'s durable state) with the charge's. A second runtime on
the same file finds the ledger as it was: kill this program at any instant,
run it again on the same file, and no order is lost or charged twice.
(The issue's ``Retry(after=5.0)`` is 0.5 s here, to keep the run short.)
The run waits for what it shows (each charge's receipt, sent from Billing's
handler and released only once that handler's ack committed, and the dead
letter on ``trouper.system.dead_letters``), not for a fixed time.
"""

import os
import tempfile

import attrs
import trio

import trouper
from trouper.durable import Durable, Retry, SqliteStore
from trouper.runtime import DeadLetter
from trouper.supervision import OneForOne


@trouper.message("shop.place-order")  # a stable type name: how the message is stored
@attrs.frozen
class PlaceOrder:
    order_id: str
    total: int


@trouper.message("shop.charge")
@attrs.frozen
class Charge:
    order_id: str
    total: int


@trouper.message("shop.charged")
@attrs.frozen
class Charged:
    """Asks Billing for its ledger."""


@trouper.message("shop.receipt")
@attrs.frozen
class Receipt:
    order_id: str


@attrs.define
class Ledger:
    charged: dict[str, int] = attrs.Factory(dict)


class Billing(trouper.Actor):
    state: Ledger  # durable state: loaded before on_start, saved with each ack

    def __init__(self, receipts: trouper.ActorRef[object] | None = None) -> None:
        self.receipts = receipts

    @trouper.handler
    async def charge(self, msg: Charge) -> None:
        if self.ctx.delivery.attempt == 1 and msg.total > 1000:
            raise Retry(after=0.5)  # not now: redelivered in 0.5 s
        self.state.charged[msg.order_id] = msg.total
        if self.receipts is not None:
            await self.receipts.tell(Receipt(msg.order_id))  # released once the ack commits

    @trouper.handler
    async def charged(self, msg: Charged) -> dict[str, int]:
        return dict(self.state.charged)


class Notes(trouper.Actor):
    """Passes receipts and dead orders on to the main task."""

    def __init__(self, send: trio.MemorySendChannel[object]) -> None:
        self.send = send

    @trouper.handler
    async def receipt(self, msg: Receipt) -> None:
        await self.send.send(msg)

    @trouper.handler
    async def dead(self, msg: DeadLetter) -> None:
        if isinstance(msg.message, PlaceOrder):
            await self.send.send(msg)


class Orders(trouper.Actor):
    def __init__(self, billing: trouper.ActorRef[object]) -> None:
        self.billing = billing

    @trouper.handler
    async def place(self, msg: PlaceOrder) -> None:
        if msg.total <= 0:
            raise ValueError("empty order")  # retried with backoff, then dead-lettered
        await self.billing.tell(Charge(msg.order_id, msg.total))  # staged: commits with this ack


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "shop.db")
        patient = OneForOne(max_restarts=10, within=10.0)  # each failed delivery is a restart
        async with trouper.open_runtime(store=SqliteStore(path), root_strategy=patient) as rt:
            send, receive = trio.open_memory_channel[object](10)
            notes = await rt.spawn(Notes, send)
            rt.topics.subscribe(notes, "trouper.system.dead_letters")
            billing = await rt.spawn(Billing, notes, name="billing", mailbox=Durable())
            retries = Durable(max_deliveries=5, backoff=(0.1, 0.2))
            orders = await rt.spawn(Orders, billing, name="orders", mailbox=retries)
            await orders.tell(PlaceOrder("o-1", 30), msg_id="o-1")  # returns once it is on disk
            await orders.tell(PlaceOrder("o-1", 30), msg_id="o-1")  # a duplicate: dropped
            await orders.tell(PlaceOrder("o-2", 0), msg_id="o-2")  # fails 5 times: dead-lettered
            await orders.tell(PlaceOrder("o-3", 2000), msg_id="o-3")  # billed on the 2nd try
            for _ in range(3):  # receipts of o-1 and o-3, the dead letter of o-2
                await receive.receive()
            async for dead in rt.store.dead_letters("orders"):
                print(dead.message, "|", dead.reason, "| attempts:", dead.attempts)
        async with trouper.open_runtime(store=SqliteStore(path)) as rt:  # the next run
            billing = await rt.spawn(Billing, name="billing", mailbox=Durable())
            print("charged after a restart:", await billing.ask(Charged()))


if __name__ == "__main__":
    trio.run(main)
