"""Review: an ask to a ``TestProbe`` that nobody answers is named in a deadlock report."""

from __future__ import annotations

import attrs
import trio

from trouper import Actor, ActorRef, handler
from trouper.testing import Deadlock, Simulation, TestProbe, run_simulation


@attrs.frozen
class Consult:
    """Ask ``oracle`` a question, and answer with its answer."""

    oracle: ActorRef[object]


class Asker(Actor):
    """Asks the oracle it is given."""

    @handler
    async def consult(self, msg: Consult) -> object:
        return await msg.oracle.ask("question")


def test_an_actor_waiting_for_a_probe_is_named_in_the_deadlock_report() -> None:
    """The asker of a probe that never replies waits: the report says on whom, for what."""

    async def system(sim: Simulation) -> object:
        oracle = TestProbe(sim.runtime, "oracle")
        asker = await sim.runtime.spawn(Asker, name="asker")
        return await asker.ask(Consult(oracle))

    result = run_simulation(system, seed=1)
    assert isinstance(result.error, Deadlock)
    assert result.error.waits == (
        "<main> waits for an answer from /asker to "
        "Consult(oracle=<TestProbe /probe/oracle, 0 waiting>) (since t=0.0000)",
        "/asker waits for an answer from /probe/oracle to 'question' (since t=0.0000)",
    )


def test_an_answered_or_abandoned_probe_ask_is_not_a_wait() -> None:
    """Once the probe replied, or its asker gave up, the ask is no longer reported."""

    async def system(sim: Simulation) -> object:
        oracle = TestProbe(sim.runtime, "oracle")
        asker = await sim.runtime.spawn(Asker, name="asker")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(asker.ask, Consult(oracle))
            await oracle.expect("question")
            oracle.reply("answer")
        with trio.move_on_after(1):
            await oracle.ask("abandoned")
        await trio.Event().wait()  # the deadlock, on nothing of the actors
        return None

    result = run_simulation(system, seed=1)
    assert isinstance(result.error, Deadlock)
    assert result.error.waits == ()
