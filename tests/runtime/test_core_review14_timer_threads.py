"""Review 14: ``send_later`` and ``every`` from another thread are refused with a clear error.

They raised Trio's internal ``AttributeError`` ('RunContext' object has no
attribute 'runner'), where every other operation that queues something says
it was called from outside the runtime's run and points to the portal.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.runtime.lowlevel import cell_of

pytestmark = pytest.mark.real_clock


class StartsTimersFromAThread(Actor):
    """Asked ``"send_later"`` or ``"every"``, starts that timer from a worker thread."""

    @handler
    async def start(self, message: str) -> BaseException | None:
        ctx = self.ctx

        def in_thread() -> BaseException | None:
            try:
                if message == "send_later":
                    ctx.send_later(60, ctx.self_ref, "tick")
                else:
                    ctx.every(60, ctx.self_ref, "tick")
            except BaseException as error:
                return error
            return None

        return await trio.to_thread.run_sync(in_thread)


@pytest.mark.parametrize("what", ["send_later", "every"])
async def test_a_timer_started_from_another_thread_raises_runtime_error(what: str) -> None:
    """``RuntimeError`` naming the call and the portal; no timer is left scheduled."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(StartsTimersFromAThread, name="a")
        error = await ref.ask(what)
        assert isinstance(error, RuntimeError), error
        assert str(error) == (
            f"{what}() was called from outside the Trio run that hosts runtime 'local' "
            "(another thread, or asyncio code beside it); from another thread use "
            "rt.portal (portal.run), from asyncio code use trouper.aio"
        )
        assert cell_of(ref).timers == set()
