"""Review: an ask from the loop holds its place in the send order, not the sends behind it."""

from __future__ import annotations

import asyncio
import functools

import pytest
import trio
from aio_actors import Note, run, until
from test_aio_review_crossing import Waiter, WaitFor

from trouper.aio import AioRuntime, open_runtime
from trouper.routing import Balancing, Broadcast, RoundRobin, Router
from trouper.testing import TestProbe

pytestmark = pytest.mark.real_clock

ROUTERS: list[Router] = [RoundRobin(), Balancing(), Broadcast()]


@pytest.mark.parametrize("router", ROUTERS, ids=lambda router: type(router).__name__)
def test_a_tell_behind_an_ask_to_a_full_pool_waits_only_for_the_asks_room(router: Router) -> None:
    """A pool's lane sends the ask when room comes, and a later tell does not wait for its reply."""
    journal: list[str] = []

    async def main() -> list[object]:
        async with open_runtime(mailbox_size=1) as rt:
            first, second = await rt.run_sync(trio.Event), await rt.run_sync(trio.Event)
            spawn = functools.partial(rt.runtime.spawn_pool, router=router)
            pool = rt.ref(await rt.run(spawn, Waiter, 1, journal))
            held = asyncio.create_task(pool.ask(WaitFor("a", first)))
            await until(lambda: journal == ["wait a"])
            await pool.tell(Note("1"))  # the member's (or the shared) mailbox is full
            late = asyncio.create_task(pool.ask(WaitFor("b", second)))  # waits for room
            told = asyncio.create_task(pool.tell(Note("2")))  # behind it, in the lane
            await asyncio.sleep(0)
            await rt.run_sync(first.set)
            replies: list[object] = [await held]
            await until(lambda: journal == ["wait a", "1", "wait b"])
            # The ask holds the handler, not the lane: the tell got in behind it.
            async with asyncio.timeout(2):
                await told
            await rt.run_sync(second.set)
            replies.append(await late)
            replies.append(await pool.ask(Note("3")))
            return replies

    replies = run(main)
    if isinstance(router, Broadcast):
        assert replies == [["a"], ["b"], ["3"]]
    else:
        assert replies == ["a", "b", "3"]
    assert journal == ["wait a", "1", "wait b", "2", "3"]


def test_a_tell_nowait_after_an_ask_without_callback_arrives_after_it() -> None:
    """An ask to an endpoint that takes no callback ask (a probe here) is not overtaken.

    Eight rounds: the ask and the tell may cross in one step or two, in either order.
    """

    async def round_of(rt: AioRuntime) -> list[object]:
        probe = await rt.run_sync(TestProbe, rt.runtime)
        ref = rt.ref(probe)
        asked = asyncio.create_task(ref.ask(Note("asked")))
        await asyncio.sleep(0)
        ref.tell_nowait(Note("told"))
        arrived = await rt.run(probe.receive_n, 2)
        await rt.run_sync(probe.reply, "answer")
        assert await asked == "answer"
        return arrived

    async def main() -> list[list[object]]:
        async with open_runtime() as rt:
            return [await round_of(rt) for _ in range(8)]

    assert run(main) == [[Note("asked"), Note("told")]] * 8
