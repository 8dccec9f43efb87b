"""Review: an ask that fails at once still lets other tasks run (a Trio checkpoint).

Without one, a loop retrying an ask to a stopped actor never yields: nothing
else runs, not even what would cancel the loop.
"""

from __future__ import annotations

import attrs
import pytest
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import ActorStopped, UnhandledMessage


@attrs.frozen
class Ping:
    """What the actor answers."""


@attrs.frozen
class Stray:
    """What no handler takes."""


class Answerer(Actor):
    """Answers a ping."""

    @handler
    async def ping(self, message: Ping) -> str:
        return "pong"


async def test_an_ask_to_a_stopped_actor_checkpoints() -> None:
    """Refused at once with ActorStopped, the ask is still a schedule point."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Answerer, name="gone")
        await rt.stop(ref)
        with (
            trio.testing.assert_checkpoints(),
            pytest.raises(ActorStopped, match=r"^actor trouper://local/gone has stopped$"),
        ):
            await ref.ask(Ping())


async def test_an_ask_no_handler_takes_checkpoints() -> None:
    """Refused at once with UnhandledMessage, the ask is still a schedule point."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Answerer, name="picky")
        with (
            trio.testing.assert_checkpoints(),
            pytest.raises(
                UnhandledMessage,
                match=(
                    r"^actor trouper://local/picky has no handler for "
                    r"test_core_review4_ask_checkpoint\.Stray$"
                ),
            ),
        ):
            await ref.ask(Stray())


async def test_a_retry_loop_on_a_stopped_actor_lets_other_tasks_run() -> None:
    """A loop asking a stopped actor again and again lets another task run."""
    ran = trio.Event()
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        ref = await rt.spawn(Answerer, name="retried")
        await rt.stop(ref)
        nursery.start_soon(_set, ran)
        for _ in range(100):
            if ran.is_set():
                break
            with pytest.raises(ActorStopped, match=r"^actor trouper://local/retried has stopped$"):
                await ref.ask(Ping())
        assert ran.is_set()


async def _set(event: trio.Event) -> None:
    event.set()
