"""Review 18: ``AioRuntime.ref`` refuses an actor of a runtime in another thread.

It gave such a ref a handle whose every ``tell`` and ``ask`` was then refused
as it crossed (a tell does not cross threads), far from where the mistake
was. It now raises ``ValueError`` naming both runtimes and the portal.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import trio
from aio_actors import Account, Balance, run

import trouper
from trouper import ActorRef
from trouper.aio import AioRef, open_runtime

pytestmark = pytest.mark.real_clock


def refused(ref: object) -> str:
    """The error ``ref`` of runtime ``'b'`` in another thread gets from ``ref()`` in ``'a'``."""
    return re.escape(
        f"ref takes a ref to an actor that runtime 'a' can tell; {ref!r} belongs to another "
        "runtime (node 'b') in another thread: reach it through that runtime's portal "
        "(its rt.portal)"
    )


def in_another_thread(
    other_side: Callable[[queue.Queue[Any], threading.Event], Coroutine[Any, Any, None]],
    runner: Callable[[Callable[[], Coroutine[Any, Any, None]]], None],
    check: Callable[[Any], Coroutine[Any, Any, None]],
) -> None:
    """Run ``other_side`` with ``runner`` in a thread; ``check`` what it hands over; bounded."""
    handed: queue.Queue[Any] = queue.Queue()
    release = threading.Event()
    thread = threading.Thread(target=runner, args=(lambda: other_side(handed, release),))
    thread.start()
    try:

        async def main() -> None:
            await check(await asyncio.to_thread(handed.get, True, 10))

        run(main)
    finally:
        release.set()
        thread.join(10)
    assert not thread.is_alive()


def test_ref_refuses_an_actor_ref_of_a_trio_runtime_in_another_thread() -> None:
    """``ValueError`` at ``ref()``; this runtime's own refs still get handles."""

    async def other_side(handed: queue.Queue[Any], release: threading.Event) -> None:
        async with trouper.open_runtime(node="b") as b:
            handed.put(await b.spawn(Account, 0))
            await trio.to_thread.run_sync(release.wait, 10)

    async def check(foreign: ActorRef[object]) -> None:
        async with open_runtime(node="a") as rt:
            with pytest.raises(ValueError, match=rf"^{refused(foreign)}$"):
                rt.ref(foreign)
            own = await rt.spawn(Account, 3)
            assert rt.ref(own.ref) == own
            assert await rt.ref(own.ref).ask(Balance()) == 3

    in_another_thread(other_side, trio.run, check)


def test_ref_refuses_an_aio_ref_of_an_asyncio_runtime_in_another_thread() -> None:
    """Another loop's ``AioRef`` is refused alike, not handed back as it was."""

    async def other_side(handed: queue.Queue[Any], release: threading.Event) -> None:
        async with open_runtime(node="b") as b:
            handed.put(await b.spawn(Account, 0))
            await asyncio.to_thread(release.wait, 10)

    async def check(foreign: AioRef[object]) -> None:
        async with open_runtime(node="a") as rt:
            with pytest.raises(ValueError, match=rf"^{refused(foreign.ref)}$"):
                rt.ref(foreign)

    in_another_thread(other_side, lambda main: asyncio.run(main()), check)
