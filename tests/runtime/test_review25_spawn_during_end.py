"""Review: what ``spawn`` does when its actor's end begins while its first ``on_start`` runs.

One rule, as for a child whose parent ends (docs/supervision.md): ``spawn``
returns the ref if that ``on_start`` completed (the actor then stops with the
end that was asked for: the runtime's close, or ``rt.stop`` by name), and
raises only if the end cut the start off (``RuntimeClosed`` for the close,
``ActorStopped`` for a stop by name). ``Runtime.spawn``'s docstring said the
close always made it raise.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

import trouper
from trouper import Actor, ActorRef, ActorStopped, RuntimeClosed, handler


@attrs.frozen
class Ping:
    pass


class StartsIn2(Actor):
    """Takes 2 s to start; notes its start and its stop."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    async def on_start(self) -> None:
        await trio.sleep(2)
        self.journal.append(f"started at {trio.current_time():g}")

    async def on_stop(self) -> None:
        self.journal.append(f"on_stop at {trio.current_time():g}")

    @handler
    async def ping(self, message: Ping) -> str:
        return "pong"


class StartsIn10(StartsIn2):
    """Takes 10 s to start: longer than its 3 s shutdown."""

    async def on_start(self) -> None:
        await trio.sleep(10)
        self.journal.append("started")


async def _spawn(
    rt: trouper.Runtime,
    factory: type[Actor],
    journal: list[str],
    results: list[tuple[object, float]],
) -> None:
    try:
        ref = await rt.spawn(factory, journal, name="slow", shutdown=3)
    except Exception as error:
        results.append((type(error), trio.current_time()))
    else:
        results.append((ref, trio.current_time()))


async def _spawn_then_close_at_1(
    factory: type[Actor],
) -> tuple[list[str], list[tuple[object, float]]]:
    """Spawn ``factory`` as "slow" (3 s shutdown), close the runtime at t=1.

    Returns the actor's journal and what the spawn gave (its ref or error type, and when).
    """
    journal: list[str] = []
    results: list[tuple[object, float]] = []
    async with trio.open_nursery() as nursery:
        rt = await trouper.start_runtime(nursery)
        nursery.start_soon(_spawn, rt, factory, journal, results)
        await trio.sleep(1)
        await rt.aclose()
    return journal, results


async def _spawn_then_stop_by_name_at_1(
    rt: trouper.Runtime,
    nursery: trio.Nursery,
    factory: type[Actor],
    journal: list[str],
    results: list[tuple[object, float]],
) -> ActorRef[Any]:
    """Spawn ``factory`` as "slow" in ``nursery``, stop it by name at t=1; return its ref."""
    nursery.start_soon(_spawn, rt, factory, journal, results)
    await trio.sleep(1)
    slow = rt.lookup("slow")
    assert slow is not None
    await rt.stop(slow)
    return slow


async def test_a_start_the_close_lets_complete_returns_the_ref_and_the_actor_stops() -> None:
    """Close at t=1, on_start done at t=2 (within its 3 s): spawn returns the ref; on_stop runs."""
    journal, results = await _spawn_then_close_at_1(StartsIn2)
    [(ref, when)] = results
    assert isinstance(ref, ActorRef)
    assert when == 2.0
    assert journal == ["started at 2", "on_stop at 2"]
    assert not await ref.tell(Ping())  # stopped with the close


async def test_a_start_the_close_cuts_off_raises_runtime_closed() -> None:
    """Close at t=1, on_start would take 10 s: cut at its 3 s shutdown, RuntimeClosed at t=4."""
    journal, results = await _spawn_then_close_at_1(StartsIn10)
    assert results == [(RuntimeClosed, 4.0)]
    assert journal == []  # not started: no on_stop


async def test_a_start_a_stop_by_name_lets_complete_returns_the_ref_and_the_actor_stops() -> None:
    """Stopped by name at t=1, on_start done at t=2: spawn returns the ref; rt.stop returns then."""
    journal: list[str] = []
    results: list[tuple[object, float]] = []
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        slow = await _spawn_then_stop_by_name_at_1(rt, nursery, StartsIn2, journal, results)
        assert trio.current_time() == 2.0
        assert not await slow.tell(Ping())
    [(ref, when)] = results
    assert ref == slow
    assert when == 2.0
    assert journal == ["started at 2", "on_stop at 2"]


async def test_a_start_a_stop_by_name_cuts_off_raises_actor_stopped() -> None:
    """Stopped by name at t=1, on_start would take 10 s: cut at t=4, ActorStopped."""
    journal: list[str] = []
    results: list[tuple[object, float]] = []
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        await _spawn_then_stop_by_name_at_1(rt, nursery, StartsIn10, journal, results)
    assert results == [(ActorStopped, 4.0)]
    assert journal == []
