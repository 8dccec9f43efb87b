"""A restart ends the old instance within its ``shutdown`` in all, as a stop does (OTP)."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor


@attrs.frozen
class Stuck:
    pass


class SlowEverywhere(Actor):
    """Hangs in a handler on ``Stuck``; its on_stop takes 10 s; notes each start and stop."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    async def on_start(self) -> None:
        self.journal.append(f"start@{trio.current_time():g}")

    async def on_stop(self) -> None:
        await trio.sleep(10)
        self.journal.append("on_stop finished")

    @trouper.handler
    async def stuck(self, message: Stuck) -> None:
        await trio.sleep_forever()


async def test_a_restart_gives_handler_and_on_stop_one_shutdown_together() -> None:
    """shutdown=2, a stuck handler, a 10 s on_stop: rt.restart returns at 2 s, not 4 s."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(SlowEverywhere, journal, shutdown=2)
        ref.tell_nowait(Stuck())
        await trio.testing.wait_all_tasks_blocked()
        with trio.fail_after(60):
            await rt.restart(ref)
        assert trio.current_time() == 2
        assert journal == ["start@0", "start@2"]


async def test_a_stop_gives_handler_and_on_stop_one_shutdown_together() -> None:
    """The same actor stopped for good: rt.stop returns at 2 s (the bar the restart meets)."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(SlowEverywhere, journal, shutdown=2)
        ref.tell_nowait(Stuck())
        await trio.testing.wait_all_tasks_blocked()
        await rt.stop(ref)
        assert trio.current_time() == 2
        assert journal == ["start@0"]
