"""Review: a stopped pool refuses a call from another thread, as a stopped actor does.

A round-robin, hash or broadcast pool with no member to route to (it has
stopped) posted the dead letter itself, from the calling thread, without
checking it: ``tell_nowait`` from another thread returned ``False`` and
``ask`` raised ``ActorStopped``, each having changed the runtime's state
(its dead letters, their listeners) from outside its Trio run. A stopped
actor's ref, and a balancing pool's, refuse such calls with ``RuntimeError``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import attrs
import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.routing import Broadcast, ConsistentHash, RoundRobin, Router

pytestmark = pytest.mark.real_clock


@attrs.frozen
class Job:
    id: int


class Worker(Actor):
    @handler
    async def job(self, message: Job) -> int:
        return message.id


def _in_thread(fn: Callable[[], object]) -> BaseException | None:
    """Run ``fn`` in a new thread (no Trio there); return what it raised."""
    caught: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as error:
            caught.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    return caught[0] if caught else None


@pytest.mark.parametrize(
    "router",
    [
        pytest.param(RoundRobin(), id="round-robin"),
        pytest.param(ConsistentHash(lambda message: message), id="hash"),
        pytest.param(Broadcast(), id="broadcast"),
    ],
)
async def test_a_stopped_pool_refuses_calls_from_another_thread(router: Router) -> None:
    """``tell``, ``tell_nowait`` and ``ask``: ``RuntimeError``, and no dead letter posted."""
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Worker, 2, router=router, name="pool")
        await rt.stop(pool)
        posted = rt.dead_letters.count
        calls: dict[str, Callable[[], object]] = {
            "tell": lambda: trio.run(pool.tell, Job(1)),
            "tell_nowait": lambda: pool.tell_nowait(Job(2)),
            "ask": lambda: trio.run(pool.ask, Job(3)),
        }
        for what, call in calls.items():
            error = await trio.to_thread.run_sync(_in_thread, call)
            assert isinstance(error, RuntimeError), (what, error)
            assert str(error).startswith(f"{what}() was called from outside"), (what, error)
        assert rt.dead_letters.count == posted
