"""An exploration's report shows a many-line problem (a deadlock's waits) line by line."""

from __future__ import annotations

import trio

import trouper
from trouper.testing import Simulation, explore, explore_durable


class Stuck(trouper.Actor):
    """Never answers."""

    @trouper.handler
    async def take(self, message: int) -> None:
        await trio.sleep_forever()


async def ask_stuck(sim: Simulation) -> None:
    """Asks an actor that never answers: a deadlock."""
    stuck = await sim.runtime.spawn(Stuck, name="stuck")
    await stuck.ask(1)


def test_a_deadlock_is_reported_with_its_waits_on_lines_of_their_own() -> None:
    """The waits are lines of the report, not ``\\n`` escapes inside a repr."""
    report = str(explore(ask_stuck, seeds=[3]))
    assert (
        "problem: Deadlock: deadlock at t=0.0000: every task waits and no timer is pending\n"
        "    <main> waits for an answer from /stuck to 1 (since t=0.0000)\n"
        "replay:  "
    ) in report
    assert "\\n" not in report.split("trace (last")[0]


def test_a_durable_deadlock_is_reported_line_by_line_too() -> None:
    """``explore_durable``'s report shows the waits the same way."""
    report = str(explore_durable(ask_stuck, seeds=[3], crashes=(0.5,)))
    assert (
        "problem: Deadlock: deadlock at t=0.5000: every task waits and no timer is pending\n"
        "    <main> waits for an answer from /stuck to 1 (since t=0.5000)\n"
    ) in report


def test_a_one_line_problem_keeps_its_form() -> None:
    """A one-line problem reads as before: ``TypeName('message')``."""

    def broken(result: object) -> None:
        raise AssertionError("money not conserved")

    report = str(explore(ends, seeds=[3], check=broken))
    assert "problem: AssertionError('money not conserved')\nreplay:  " in report


async def ends(sim: Simulation) -> int:
    """Ends at once."""
    return 1
