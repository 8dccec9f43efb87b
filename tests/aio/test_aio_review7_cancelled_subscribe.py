"""Review 7: a subscribe from asyncio cancelled once it was made leaves no subscription behind.

asyncio can cancel a task whose awaited future already holds its result (the
cancellation lands before the task resumes): the caller then sees
``CancelledError`` and never the ``Subscription``, which it could not cancel.
A cancelled call must leave nothing done, as ``asyncio.Lock.acquire`` gives
back a lock it got.
"""

from __future__ import annotations

import asyncio

import pytest
from aio_actors import Account, run, until

from trouper.aio import open_runtime

pytestmark = pytest.mark.real_clock


def test_a_subscribe_cancelled_after_it_was_made_is_undone() -> None:
    """Cancelled between the subscription's making and the caller's resuming: unsubscribed."""

    async def main() -> tuple[bool, int]:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            topics = rt.runtime.topics
            subscribing = asyncio.create_task(rt.subscribe(account, "news"))
            await until(lambda: len(topics) == 1)  # made in Trio; the caller not yet resumed
            subscribing.cancel()
            await asyncio.wait({subscribing})
            await rt.run_sync(lambda: None)  # after anything the cancellation queued
            return subscribing.cancelled(), len(topics)

    assert run(main) == (True, 0)
