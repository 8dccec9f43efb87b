"""A durable handler's staged tells: cancellation points, schedule points only once in a few."""

from __future__ import annotations

from pathlib import Path

import trio
from durable_support import Charge, ChargeSink, Place, sqlite

import trouper
from trouper.durable import Durable

SENDS = 320


class Passes:
    """Counts the scheduler passes another task gets (one per yield of the others), until done."""

    def __init__(self) -> None:
        self.count = 0
        self.done = False

    async def run(self) -> None:
        while not self.done:
            self.count += 1
            await trio.lowlevel.cancel_shielded_checkpoint()


class FanOut(trouper.Actor):
    """Stages ``SENDS`` charges per order, noting how many passes the other task got meanwhile."""

    def __init__(self, target: trouper.ActorRef[object], passes: Passes, seen: list[int]) -> None:
        self.target = target
        self.passes = passes
        self.seen = seen

    @trouper.handler
    async def place(self, message: Place) -> None:
        before = self.passes.count
        for index in range(SENDS):
            await self.target.tell(Charge(f"{message.order_id}-{index}", message.total))
        self.seen.append(self.passes.count - before)
        self.passes.done = True


async def test_a_loop_of_staged_tells_yields_now_and_then_not_each_time(tmp_path: Path) -> None:
    """Staging waits for nothing, so it does not yield each time; a loop of it lets others run."""
    passes, seen, got = Passes(), list[int](), list[object]()
    store = sqlite(tmp_path / "s.db")
    async with trouper.open_runtime(store=store) as rt, trio.open_nursery() as n:
        sink = await rt.spawn(ChargeSink, got, name="sink", mailbox=Durable())
        fan = await rt.spawn(FanOut, sink, passes, seen, name="fan", mailbox=Durable())
        n.start_soon(passes.run)
        await fan.tell(Place("o", 1))
        await trio.sleep(1)  # on virtual time: once the store and every task are idle
        await rt.store.flush()
    assert len(got) == SENDS  # every staged send committed with the ack, then was handled
    [others_ran] = seen
    assert SENDS // 32 <= others_ran <= SENDS // 4


class CancelledTell(trouper.Actor):
    """Tells its target inside a cancelled scope, then records whether the tell returned."""

    def __init__(self, target: trouper.ActorRef[object], returned: list[bool]) -> None:
        self.target = target
        self.returned = returned

    @trouper.handler
    async def place(self, message: Place) -> None:
        with trio.CancelScope() as scope:
            scope.cancel()
            self.returned.append(await self.target.tell(Charge(message.order_id, 1)))
        self.returned.append(scope.cancelled_caught)


async def test_a_staged_tell_in_a_cancelled_scope_is_not_sent(tmp_path: Path) -> None:
    """The staged tell is still a cancellation point: cancelled, it stages nothing."""
    returned: list[bool] = []
    got: list[object] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        sink = await rt.spawn(ChargeSink, got, name="sink", mailbox=Durable())
        teller = await rt.spawn(CancelledTell, sink, returned, name="teller", mailbox=Durable())
        await teller.tell(Place("o-1", 1))
        await trio.sleep(1)  # on virtual time: once the store and every task are idle
        await rt.store.flush()
        depths = {b.name: b.depth for b in await rt.store.mailbox_statistics()}
    assert returned == [True]  # the tell raised Cancelled, caught by the scope: nothing appended
    assert (got, depths) == ([], {"teller": 0, "sink": 0})
