"""Review: an ask refused at once as a cycle still lets other tasks run (a Trio checkpoint).

As with an ask to a stopped actor (review 4): a handler that retries a refused
ask in a loop must not freeze the loop.
"""

from __future__ import annotations

import attrs
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import AskCycle


@attrs.frozen
class Ping:
    """What the actor answers."""


@attrs.frozen
class AskSelf:
    """Makes the actor ask itself, which is a cycle."""


class SelfAsker(Actor):
    """Asks itself, and reports whether the refusal was a checkpoint."""

    @handler
    async def ping(self, message: Ping) -> str:
        return "pong"

    @handler
    async def ask_self(self, message: AskSelf) -> str:
        with trio.testing.assert_checkpoints():  # (checked only if the block ends normally)
            try:
                await self.ctx.self_ref.ask(Ping())
            except AskCycle as error:
                refused = f"refused: {' -> '.join(error.cycle)}"
            else:
                refused = "answered"
        return refused


async def test_an_ask_refused_as_a_cycle_checkpoints() -> None:
    """An actor asking itself gets AskCycle at once, at a schedule point."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(SelfAsker, name="narcissus")
        assert await ref.ask(AskSelf()) == "refused: /narcissus -> /narcissus"
