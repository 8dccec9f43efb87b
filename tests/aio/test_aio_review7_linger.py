"""Review 7: Trio lingers after the reply to an ask from asyncio, as after any completion.

The bridge keeps Trio awake for ``LINGER`` seconds after the loop's last call or
a call's completion, so that the loop's next call does not pay for waking Trio
from its I/O wait. An ask that took the direct route marked only its sending:
when its handler took longer than the linger, Trio went to sleep as soon as it
had replied, and the next ask woke it.
"""

from __future__ import annotations

import attrs
import pytest
import trio
from aio_actors import run
from test_aio_direct_route import Waits

import trouper
from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


@attrs.frozen
class Slow(trouper.Request[int]):
    """Handled in ``seconds`` of real time; answered with the I/O waits Trio had begun by then."""

    seconds: float


class Sleeper(trouper.Actor):
    """Sleeps as asked, then replies with how many I/O waits ``waits`` has seen."""

    def __init__(self, waits: Waits) -> None:
        self.waits = waits

    @trouper.handler
    async def slow(self, message: Slow) -> int:
        await trio.sleep(message.seconds)
        return len(self.waits.timeouts)


def test_trio_lingers_after_replying_to_a_slow_ask() -> None:
    """The first I/O wait after the reply polls (timeout 0) instead of sleeping."""

    async def main() -> list[float]:
        async with open_runtime() as rt:
            waits = Waits()
            sleeper = await rt.spawn(Sleeper, waits)
            await rt.run_sync(trio.lowlevel.add_instrument, waits)
            replied = await sleeper.ask(Slow(0.01))  # twenty times the linger
            after = waits.timeouts[replied:]
            await rt.run_sync(trio.lowlevel.remove_instrument, waits)
            return after[:1]

    assert run(main) == [0.0]
