"""Review 26: a runtime's asyncio calls from another event loop of its thread are refused.

A runtime opened on one loop and called from a second loop of the same thread
(a second ``asyncio.run``, a pytest-asyncio fixture of a wider loop scope than
its tests) passed the thread check: an ``ask`` was queued to the actor, a
``spawn`` (or ``stop``, ``run_sync`` ...) queued for the pump, and each then
failed with asyncio's "got Future attached to a different loop", leaving the
ask to be handled and the actor to be spawned, unheld, once the runtime's
loop ran again. Calls other than sends now raise ``RuntimeError`` saying so
before anything is queued; an ``ask`` (which, as a send, is not checked up
front) is withdrawn as a cancelled one is, and raises the same error.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
from aio_actors import DEADLINE, Account, Balance, Withdraw

from trouper.aio import AioRef, AioRuntime, open_runtime

pytestmark = pytest.mark.real_clock

OTHER_LOOP = re.escape(
    "trouper.aio calls belong to asyncio code on the event loop that opened the runtime, "
    "not another one (a second asyncio.run, a pytest-asyncio fixture of another loop "
    "scope): open the runtime on the loop that uses it"
)


def calls(
    rt: AioRuntime, account: AioRef[object], pool: AioRef[object]
) -> list[Callable[[], object]]:
    """The calls of the asyncio API that refuse another loop, made on ``rt``'s actors."""
    return [
        lambda: account.ask(Withdraw(5)),  # straight to the actor (the direct route)
        lambda: pool.ask(Withdraw(5)),  # through the bridge's pump
        lambda: rt.spawn(Account, 0, name="stray"),
        lambda: rt.stop(account),
        lambda: rt.publish("a.b", Balance()),
        lambda: rt.run_sync(len, ()),
        lambda: rt.lookup("account"),
        rt.tree,
    ]


async def attempt(call: Callable[[], object]) -> None:
    """Make ``call``, and await what it returns if it is a coroutine."""
    result = call()
    if asyncio.iscoroutine(result):
        async with asyncio.timeout(DEADLINE):
            await result


def test_calls_from_a_second_loop_of_the_thread_are_refused_and_do_nothing() -> None:
    """A second loop's calls raise; back on its own loop, the runtime did none of them."""
    home = asyncio.new_event_loop()
    try:
        block = open_runtime()

        async def enter() -> tuple[AioRuntime, AioRef[object], AioRef[object]]:
            rt = await block.__aenter__()
            account = await rt.spawn(Account, 10, name="account")
            return rt, account, await rt.spawn_pool(Account, 1, 10)

        rt, account, pool = home.run_until_complete(enter())
        try:

            async def elsewhere() -> None:
                for call in calls(rt, account, pool):
                    with pytest.raises(RuntimeError, match=rf"^{OTHER_LOOP}$"):
                        await attempt(call)

            asyncio.run(elsewhere())

            async def check() -> None:
                async with asyncio.timeout(DEADLINE):
                    assert await account.ask(Balance()) == 10
                    assert await pool.ask(Balance()) == 10
                    assert rt.lookup("stray") is None

            home.run_until_complete(check())
        finally:
            home.run_until_complete(block.__aexit__(None, None, None))
    finally:
        home.close()
