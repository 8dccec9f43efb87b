"""Review: ``Portal.tell`` says whether its message reached the mailbox, as ``tell`` does."""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper import Actor, handler

pytestmark = pytest.mark.real_clock  # a thread's call


class Counter(Actor):
    @handler
    async def add(self, message: int) -> None:
        pass


async def test_the_portal_tell_returns_whether_the_message_reached_the_mailbox() -> None:
    """``True`` to a live actor, ``False`` (a dead letter) once it has stopped."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Counter)
        alive = await trio.to_thread.run_sync(rt.portal.tell, ref, 1)
        await rt.stop(ref)
        stopped = await trio.to_thread.run_sync(rt.portal.tell, ref, 2)
    assert (alive, stopped) == (True, False)
