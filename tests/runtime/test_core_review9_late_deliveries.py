"""Review 9: ``Cell.late_deliveries`` lists the tells an interception delayed, and their waits."""

from __future__ import annotations

import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.runtime.lowlevel import Cell, Interception, LateDelivery, SendKind, cell_of


class Gate(Actor):
    """Holds its handler on ``"hold"`` until ``gate`` is set; takes anything else at once."""

    def __init__(self, gate: trio.Event, seen: list[str]) -> None:
        self.gate = gate
        self.seen = seen

    @handler
    async def take(self, message: str) -> None:
        if message == "hold":
            await self.gate.wait()
        self.seen.append(message)


class Delays(trouper.runtime.lowlevel.Instrument):
    """Delays each tell of ``"late"`` by 2 s, with a fate of its own."""

    def __init__(self) -> None:
        self.fates: list[Interception] = []

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        if message != "late":
            return None
        fate = Interception(delay=2.0)
        self.fates.append(fate)
        return fate


def _seen(deliveries: tuple[LateDelivery, ...]) -> list[tuple[object, int, float, bool]]:
    return [(d.message, id(d.fate), d.due, d.waiting_for_room) for d in deliveries]


async def test_a_delayed_tell_is_listed_until_delivered_and_says_when_it_waits_for_room() -> None:
    """Listed from the tell to its delivery, in told order; waiting for room only while in put."""
    gate, seen = trio.Event(), list[str]()
    delays = Delays()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate, seen, name="gate", mailbox_size=1)
        cell = cell_of(ref)
        rt.instruments.add(delays)
        await ref.tell("hold")
        await trio.testing.wait_all_tasks_blocked()
        await ref.tell("fill")  # the mailbox is full
        start = trio.current_time()
        await ref.tell("late")
        await trio.sleep(0.5)
        await ref.tell("late")
        (first, second) = (id(fate) for fate in delays.fates)
        assert _seen(cell.late_deliveries) == [
            ("late", first, start + 2.0, False),
            ("late", second, start + 2.5, False),
        ]
        await trio.sleep(2.1)  # both are due, the mailbox is still full
        assert _seen(cell.late_deliveries) == [
            ("late", first, start + 2.0, True),
            ("late", second, start + 2.5, True),
        ]
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert cell.late_deliveries == ()
        assert seen == ["hold", "fill", "late", "late"]


async def test_a_late_delivery_cancelled_with_the_runtime_is_not_listed() -> None:
    """A delivery that never happens (the runtime closes first) leaves nothing listed."""
    gate, seen = trio.Event(), list[str]()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate, seen, name="gate", mailbox_size=1)
        cell = cell_of(ref)
        rt.instruments.add(Delays())
        await ref.tell("late")
        assert len(cell.late_deliveries) == 1
    assert len(cell.late_deliveries) == 0
