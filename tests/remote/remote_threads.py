"""Node ``a`` in a thread of its own, for the tests of what refuses a call from another thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio
from remote_support import nodes

from trouper import ActorRef, Runtime
from trouper.remote import Nats

T = TypeVar("T")


def with_node_a_in_a_thread(
    transport: Nats,
    hand: Callable[[Runtime], T],
    check: Callable[[T], None],
    *,
    after: Callable[[Runtime], Awaitable[None]] | None = None,
) -> None:
    """Node ``a`` runs in a thread; ``check`` gets what ``hand`` made of it there, in this one.

    ``hand`` runs in ``a``'s thread, as does ``after`` once ``check`` returned
    (what ``a`` still does itself); then the thread ends (within 20 s).
    """
    handed: queue.Queue[T] = queue.Queue()
    release = threading.Event()

    async def node_a() -> None:
        async with nodes(transport, "a") as (a,):
            handed.put(hand(a))
            await trio.to_thread.run_sync(release.wait, 20)
            if after is not None:
                await after(a)

    thread = threading.Thread(target=trio.run, args=(node_a,))
    thread.start()
    try:
        check(handed.get(True, 20))
    finally:
        release.set()
        thread.join(20)
    assert not thread.is_alive()


def refs_made_on_a(a: Runtime) -> list[ActorRef[object]]:
    """``a``'s refs to node ``c``'s sink and to a name of its own.

    The second has no actor behind it yet: a ref that finds it on ``a`` when used.
    """
    return [a.remote("c", "sink"), a.remote("a", "later")]


def refused_outside_a(what: str) -> str:
    """The ``RuntimeError`` message of node ``a``'s ``what()`` called from outside its Trio run."""
    return (
        f"{what}() was called from outside the Trio run that hosts runtime 'a' (another "
        "thread, or asyncio code beside it); from another thread use rt.portal (portal.run), "
        "from asyncio code use trouper.aio"
    )


def the_runtime(a: Runtime) -> Runtime:
    """``a`` itself, handed as it is."""
    return a
