"""Review 9: a ``handler_started`` hook that raises after another returned a pause."""

from __future__ import annotations

import gc
from collections.abc import Awaitable

import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import HandlerError
from trouper.runtime.lowlevel import Cell, Instrument


class Echo(Actor):
    @handler
    async def echo(self, message: str) -> str:
        return message


class Pauses(Instrument):
    """Pauses every handler 1 s before it runs."""

    def __init__(self) -> None:
        self.paused = 0

    def handler_started(
        self, actor: Cell, message: object, context: object
    ) -> Awaitable[None] | None:
        return self.pause()

    async def pause(self) -> None:
        await trio.sleep(1)
        self.paused += 1


class Crashes(Instrument):
    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        raise ValueError("injected")


async def test_a_pause_a_later_hook_made_moot_is_closed_never_left_unawaited() -> None:
    """The handler fails at once with the error; the pause neither runs nor warns."""
    pauses = Pauses()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="echo")
        rt.instruments.add(pauses)
        rt.instruments.add(Crashes())
        start = trio.current_time()
        with pytest.raises(HandlerError):
            await ref.ask("x")
        assert trio.current_time() == start
        gc.collect()  # an unawaited coroutine warns as it is collected
    assert pauses.paused == 0


async def test_pauses_after_one_a_stop_cut_off_are_closed_never_left_unawaited() -> None:
    """Two pauses in turn, the first cut off by a stop: the second neither runs nor warns."""
    first, second = Pauses(), Pauses()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="echo", shutdown=0.5)
        rt.instruments.add(first)
        rt.instruments.add(second)
        await ref.tell("x")
        await trio.testing.wait_all_tasks_blocked()
        await rt.stop(ref)  # cuts the first pause off after 0.5 s
        gc.collect()
    assert (first.paused, second.paused) == (0, 0)
