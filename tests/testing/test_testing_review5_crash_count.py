"""Review 5: a ``Crash`` at the Nth message fires once per actor path, whatever restarts it."""

from __future__ import annotations

import trio

import trouper
from trouper.testing import (
    Crash,
    DurableSimulation,
    FaultPlan,
    Simulation,
    run_durable_simulation,
    run_simulation,
)


class Echo(trouper.Actor):
    """Answers with what it got."""

    @trouper.handler
    async def echo(self, message: int) -> int:
        return message


async def ask_four(sim: Simulation) -> list[object]:
    """Ask /echo four times, a second apart; a crash answers ``"crash"``."""
    echo = await sim.runtime.spawn(Echo, name="echo")
    answers: list[object] = []
    for number in range(4):
        try:
            answers.append(await echo.ask(number))
        except trouper.HandlerError:
            answers.append("crash")
        await trio.sleep(1)
    return answers


def test_a_crash_at_message_fires_once_across_incarnations() -> None:
    """The next incarnation's /echo is the same actor: its second message is not crashed again."""

    async def system(sim: DurableSimulation) -> list[object]:
        return await ask_four(sim)

    result = run_durable_simulation(
        system, seed=1, crashes=(2.5,), faults=FaultPlan(Crash("/echo", at_message=2))
    )
    assert result.error is None, result.error
    assert result.value == [0, 1, 2, 3]  # the last incarnation: its messages 5 to 8
    assert [(event.time, event.detail) for event in result.trace.filter("fault", "/echo")] == [
        (1.0, "crash at message 2")
    ]


def test_a_crash_at_message_fires_once_for_an_actor_spawned_again_at_its_path() -> None:
    """An actor stopped and spawned again under its name goes on counting its path's messages."""

    async def system(sim: Simulation) -> list[object]:
        first = await ask_four(sim)
        echo = sim.runtime.lookup("echo")
        assert echo is not None
        await sim.runtime.stop(echo)
        return first + await ask_four(sim)

    result = run_simulation(system, seed=1, faults=FaultPlan(Crash("/echo", at_message=2)))
    assert result.error is None, result.error
    assert result.value == [0, "crash", 2, 3, 0, 1, 2, 3]
