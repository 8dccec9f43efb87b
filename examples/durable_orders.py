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
"""

import os
import tempfile

import attrs
import trio

import trouper
from trouper.durable import Durable, Retry, SqliteStore
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


@attrs.define
class Ledger:
    charged: dict[str, int] = attrs.Factory(dict)


class Billing(trouper.Actor):
    state: Ledger  # durable state: loaded before on_start, saved with each ack

    @trouper.handler
    async def charge(self, msg: Charge) -> None:
        if self.ctx.delivery.attempt == 1 and msg.total > 1000:
            raise Retry(after=0.5)  # not now: redelivered in 0.5 s
        self.state.charged[msg.order_id] = msg.total

    @trouper.handler
    async def charged(self, msg: Charged) -> dict[str, int]:
        return dict(self.state.charged)


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
            billing = await rt.spawn(Billing, name="billing", mailbox=Durable())
            retries = Durable(max_deliveries=5, backoff=(0.1, 0.2))
            orders = await rt.spawn(Orders, billing, name="orders", mailbox=retries)
            await orders.tell(PlaceOrder("o-1", 30), msg_id="o-1")  # returns once it is on disk
            await orders.tell(PlaceOrder("o-1", 30), msg_id="o-1")  # a duplicate: dropped
            await orders.tell(PlaceOrder("o-2", 0), msg_id="o-2")  # fails 5 times: dead-lettered
            await orders.tell(PlaceOrder("o-3", 2000), msg_id="o-3")  # billed on the 2nd try
            await trio.sleep(3)
            async for dead in rt.store.dead_letters("orders"):
                print(dead.message, "|", dead.reason, "| attempts:", dead.attempts)
        async with trouper.open_runtime(store=SqliteStore(path)) as rt:  # the next run
            billing = await rt.spawn(Billing, name="billing", mailbox=Durable())
            print("charged after a restart:", await billing.ask(Charged()))


if __name__ == "__main__":
    trio.run(main)
