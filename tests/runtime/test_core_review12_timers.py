"""Review: a timer started in ``on_stop`` ends with the instance a restart replaces.

A restart's end of the instance cancelled the actor's timers only once its
children had stopped after ``on_stop``; an ``on_stop`` cut off by the
``shutdown`` deadline skipped that step, so a timer it had started outlived
the instance and told the new one.
"""

from __future__ import annotations

import trio

import trouper
from trouper import Actor, Timer, handler


class LateFlush(Actor):
    """Its ``on_stop`` schedules a flush to itself, then hangs past its ``shutdown``."""

    def __init__(self, got: list[tuple[float, str]], timers: list[Timer]) -> None:
        self.got = got
        self.timers = timers

    async def on_stop(self) -> None:
        self.timers.append(self.ctx.send_later(3.0, self.ctx.self_ref, "flush"))
        await trio.sleep_forever()

    @handler
    async def note(self, message: str) -> None:
        self.got.append((trio.current_time(), message))


async def test_a_timer_from_an_on_stop_cut_off_by_a_restart_never_tells_the_new_instance() -> None:
    """The timer ends with the old instance, though its ``on_stop`` never returned."""
    got: list[tuple[float, str]] = []
    timers: list[Timer] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(LateFlush, got, timers, name="flusher", shutdown=2.0)
        await rt.restart(ref)
        assert trio.current_time() == 2.0  # on_stop was cut off by the deadline
        assert [timer.active for timer in timers] == [False]
        await trio.sleep(10)
        assert got == []
        await rt.stop(ref)
