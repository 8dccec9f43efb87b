"""Review fix: an ask still waiting for room in its target's mailbox is part of a cycle."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle


@attrs.frozen
class AskB:
    pass


@attrs.frozen
class Question:
    pass


@attrs.frozen
class Hold:
    pass


@attrs.frozen
class Filler:
    pass


class A(Actor):
    """Asks b from its handler; answers b's questions."""

    def __init__(self, b: trouper.ActorRef[object]) -> None:
        self.b = b

    @handler
    async def ask_b(self, message: AskB) -> object:
        return await self.b.ask(Question())

    @handler
    async def question(self, message: Question) -> str:
        return "a's answer"


class B(Actor):
    """``Hold`` waits for ``gate``, then asks a; answers a's questions."""

    def __init__(self, gate: trio.Event, outcomes: list[object]) -> None:
        self.gate = gate
        self.outcomes = outcomes
        self.a: trouper.ActorRef[object] | None = None

    @handler
    async def hold(self, message: Hold) -> None:
        await self.gate.wait()
        a = self.ctx.runtime.lookup("a")
        assert a is not None
        try:
            self.outcomes.append(await a.ask(Question()))
        except AskCycle as error:
            self.outcomes.append(error.cycle)

    @handler
    async def filler(self, message: Filler) -> None:
        pass

    @handler
    async def question(self, message: Question) -> str:
        return "b's answer"


async def test_an_ask_waiting_for_room_closes_a_cycle_at_once() -> None:
    """a's ask waits for room in b's full mailbox while b's handler asks a: AskCycle, no hang."""
    gate = trio.Event()
    outcomes: list[object] = []
    async with trouper.open_runtime() as rt:
        b = await rt.spawn(B, gate, outcomes, name="b", mailbox_size=1)
        a = await rt.spawn(A, b, name="a")
        await b.tell(Hold())  # b's handler waits for the gate
        await trio.testing.wait_all_tasks_blocked()
        await b.tell(Filler())  # b's mailbox is full
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.ask, AskB())  # a's handler waits for room in b's mailbox
            await trio.testing.wait_all_tasks_blocked()
            gate.set()  # b's handler asks a, whose handler waits on b
            with trio.fail_after(10):
                await trio.testing.wait_all_tasks_blocked()
                assert outcomes == [("/b", "/a", "/b")]
        assert await a.ask(AskB()) == "b's answer"
