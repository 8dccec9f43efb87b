"""Review 14: what a fault still holds back when the runtime closes is a dead letter, not lost."""

from __future__ import annotations

import outcome
import trio

import trouper
from trouper import Actor, ActorStopped, handler
from trouper.runtime.lowlevel import Cell, Instrument, Interception, SendKind, cell_of
from trouper.testing import Delay, FaultPlan, Simulation, run_simulation


class Echo(Actor):
    """Answers a number with itself."""

    @handler
    async def number(self, message: int) -> int:
        return message


class Holds(Instrument):
    """Holds back each send of ``kind`` by 5 s, and delivers a tell twice if ``duplicate``."""

    def __init__(self, kind: SendKind, *, duplicate: bool = False) -> None:
        self.kind = kind
        self.duplicate = duplicate

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        if kind is not self.kind:
            return None
        return Interception(delay=5.0, duplicate=self.duplicate)


async def _ends_while_a_tell_is_late(sim: Simulation) -> str:
    echo = await sim.runtime.spawn(Echo, name="echo")
    await echo.tell(1)  # held back 5 s by the plan
    await trio.sleep(1)  # the runtime stops at t=1, before it is due
    return "done"


def test_a_tell_a_delay_holds_back_when_the_simulation_ends_is_a_dead_letter() -> None:
    """In the trace as an ``actor stopped`` dead letter, as a tell left in the mailbox is."""
    plan = FaultPlan(Delay(("<main>", "/echo"), 1.0, delay=5))
    result = run_simulation(_ends_while_a_tell_is_late, seed=1, faults=plan)
    assert result.error is None
    assert [e.detail for e in result.trace.filter("dead_letter")] == ["actor stopped: 1"]


async def test_both_copies_of_a_delayed_duplicated_tell_are_dead_letters_at_close() -> None:
    """A tell delayed and duplicated, still held back as the runtime closes: two dead letters."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="echo")
        rt.instruments.add(Holds(SendKind.TELL, duplicate=True))
        await ref.tell(7)
        assert len(cell_of(ref).late_deliveries) == 1
    assert cell_of(ref).late_deliveries == ()
    assert [(d.message, d.reason) for d in rt.dead_letters.recent] == [
        (7, "actor stopped"),
        (7, "actor stopped"),
    ]
    assert trio.current_time() == 0.0  # closing did not wait for them to be due


async def test_a_callback_ask_a_fault_delays_is_answered_actor_stopped_at_close() -> None:
    """Its callback gets ``ActorStopped`` and a dead letter is posted, as for a queued ask."""
    replies: list[outcome.Outcome[object]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="echo")
        rt.instruments.add(Holds(SendKind.ASK))
        cell_of(ref).ask_soon(3, replies.append)
    (reply,) = replies
    assert isinstance(reply, outcome.Error)
    assert isinstance(reply.error, ActorStopped)
    assert reply.error.address == ref.address
    assert [(d.message, d.reason) for d in rt.dead_letters.recent] == [(3, "actor stopped")]


async def test_a_withdrawn_callback_ask_a_fault_delays_is_not_answered_at_close() -> None:
    """An ask its asker abandoned stays unanswered and posts nothing when the runtime closes."""
    replies: list[outcome.Outcome[object]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="echo")
        rt.instruments.add(Holds(SendKind.ASK))
        cell_of(ref).ask_soon(3, replies.append).abandon()
    assert replies == []
    assert rt.dead_letters.recent == ()
