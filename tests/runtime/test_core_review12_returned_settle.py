"""Review: a settling mailbox that raises as a cut-off message is returned keeps the stop whole.

A handler cut off by a stop's deadline is settled ``RETURNED`` while its
cancellation unwinds; a mailbox (a layer's) whose ``settle`` raised then
replaced the cancellation with its error, which left the cell as no failure
and no cancellation ever does: it crashed the runtime, whose block raised it.
"""

from __future__ import annotations

import logging

import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.runtime.lowlevel import MailboxEnding, MemoryMailbox


class CannotReturn(MemoryMailbox):
    """Settles every item, but cannot take one back (its store is gone, say)."""

    settles = True

    def settle(self, item: object, ending: MailboxEnding, error: BaseException | None) -> bool:
        if ending is MailboxEnding.RETURNED:
            raise OSError("cannot put it back")
        return False


class CannotReturnMailboxes:
    """Opens a ``CannotReturn`` mailbox per actor."""

    def open_mailbox(
        self, runtime: trouper.Runtime, name: str | None, size: float
    ) -> MemoryMailbox:
        return CannotReturn(size)


class Hangs(Actor):
    """Its handler never returns."""

    @handler
    async def hang(self, message: str) -> None:
        await trio.sleep_forever()


async def test_a_returned_settle_that_raises_is_logged_and_the_stop_completes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The stop cuts the handler off at its deadline and completes; the runtime goes on."""
    with caplog.at_level(logging.ERROR, logger="trouper"):
        async with trouper.open_runtime() as rt:
            ref = await rt.spawn(Hangs, mailbox=CannotReturnMailboxes(), shutdown=1.0)
            await ref.tell("hang")
            await trio.testing.wait_all_tasks_blocked()
            await rt.stop(ref)
            assert trio.current_time() == 1.0
            assert rt.lookup(ref.address.path[1:]) is None
    assert "OSError: cannot put it back" in caplog.text
