"""Review 26: a runtime's asyncio calls from another event loop of its thread are refused.

A runtime opened on one loop and called from a second loop of the same thread
(a pytest-asyncio fixture of a wider loop scope than its tests, a second
``asyncio.run``) passed the thread check: a ``tell`` was put in a mailbox that
no actor could take it from while the second loop ran, an ``ask`` or ``spawn``
was queued and then failed with asyncio's "attached to a different loop",
leaving the ask pending and the actor spawned, unheld. Each call now raises
``RuntimeError`` saying so, before anything is sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
from aio_actors import DEADLINE, Account, Balance, Deposit

from trouper.aio import AioRef, AioRuntime, open_runtime

pytestmark = pytest.mark.real_clock

OTHER_LOOP = re.escape(
    "trouper.aio calls belong to asyncio code on the event loop that opened the runtime, "
    "not another one (a second asyncio.run, a pytest-asyncio fixture of another loop "
    "scope): open the runtime on the loop that uses it"
)


def calls(rt: AioRuntime, account: AioRef[object]) -> dict[str, Callable[[], object]]:
    """Each call of the asyncio API, by name, made on ``rt`` and ``account``."""
    return {
        "tell": lambda: account.tell(Deposit(1)),
        "tell_nowait": lambda: account.tell_nowait(Deposit(1)),
        "ask": lambda: account.ask(Balance()),
        "spawn": lambda: rt.spawn(Account, 0, name="stray"),
        "stop": lambda: rt.stop(account),
        "publish": lambda: rt.publish("a.b", Deposit(1)),
        "run_sync": lambda: rt.run_sync(len, ()),
        "lookup": lambda: rt.lookup("account"),
        "tree": rt.tree,
    }


async def attempt(call: Callable[[], object]) -> None:
    """Make ``call``, and await what it returns if it is a coroutine."""
    result = call()
    if asyncio.iscoroutine(result):
        async with asyncio.timeout(DEADLINE):
            await result


async def refused_everywhere(rt: AioRuntime, account: AioRef[object], match: str) -> None:
    """Every call raises ``RuntimeError`` matching ``match``, coroutine or not."""
    for call in calls(rt, account).values():
        with pytest.raises(RuntimeError, match=rf"^{match}$"):
            await attempt(call)


def test_calls_from_a_second_loop_of_the_thread_are_refused_and_send_nothing() -> None:
    """A second loop's calls raise; back on its own loop, the runtime saw none of them."""
    home = asyncio.new_event_loop()
    try:
        block = open_runtime()

        async def enter() -> tuple[AioRuntime, AioRef[object]]:
            rt = await block.__aenter__()
            return rt, await rt.spawn(Account, 10, name="account")

        rt, account = home.run_until_complete(enter())
        try:
            asyncio.run(refused_everywhere(rt, account, OTHER_LOOP))

            async def check() -> None:
                async with asyncio.timeout(DEADLINE):
                    assert await account.ask(Balance()) == 10
                    assert rt.lookup("stray") is None

            home.run_until_complete(check())
        finally:
            home.run_until_complete(block.__aexit__(None, None, None))
    finally:
        home.close()
