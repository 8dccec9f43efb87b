"""A supervisor's stop waits as long as its children's own shutdown allows (OTP's infinity)."""

from __future__ import annotations

import math

import trio

import trouper
from trouper import Actor, ChildSpec, Supervisor


class SlowToStop(Actor):
    """Its on_stop takes ``seconds`` (virtual)."""

    def __init__(self, seconds: float, journal: list[str]) -> None:
        self.seconds = seconds
        self.journal = journal

    async def on_stop(self) -> None:
        await trio.sleep(self.seconds)
        self.journal.append(f"stopped after {self.seconds}")


async def _time_to_stop(rt: trouper.Runtime, ref: trouper.ActorRef[object]) -> float:
    start = trio.current_time()
    await rt.stop(ref)
    return trio.current_time() - start


async def test_a_supervisor_waits_for_a_child_whose_shutdown_is_longer_than_the_default() -> None:
    """Child shutdown 10, its on_stop 8 s, runtime default 5: the supervisor stops in 8 s."""
    journal: list[str] = []
    async with trouper.open_runtime(shutdown=5) as rt:
        sup = await rt.spawn(Supervisor, [ChildSpec("slow", SlowToStop, (8, journal), shutdown=10)])
        assert await _time_to_stop(rt, sup) == 8
    assert journal == ["stopped after 8"]


async def test_a_child_with_infinite_shutdown_is_waited_for_as_long_as_it_takes() -> None:
    """``shutdown=math.inf`` on the child: the supervisor waits 100 s for it."""
    journal: list[str] = []
    async with trouper.open_runtime(shutdown_timeout=math.inf) as rt:
        sup = await rt.spawn(
            Supervisor, [ChildSpec("slow", SlowToStop, (100, journal), shutdown=math.inf)]
        )
        assert await _time_to_stop(rt, sup) == 100
    assert journal == ["stopped after 100"]


async def test_a_child_supervisor_defaults_to_waiting_for_its_own_children() -> None:
    """A supervisor child (no shutdown given) waits for its grandchild's 8 s on_stop."""
    journal: list[str] = []
    inner = [ChildSpec("slow", SlowToStop, (8, journal), shutdown=10)]
    async with trouper.open_runtime(shutdown=5) as rt:
        top = await rt.spawn(Supervisor, [ChildSpec("inner", Supervisor, (inner,))])
        assert await _time_to_stop(rt, top) == 8
    assert journal == ["stopped after 8"]


async def test_a_supervisor_given_a_shutdown_still_bounds_its_subtree() -> None:
    """An explicit shutdown on the supervisor cuts its children's stops at that deadline."""
    journal: list[str] = []
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(
            Supervisor, [ChildSpec("slow", SlowToStop, (8, journal), shutdown=10)], shutdown=2
        )
        assert await _time_to_stop(rt, sup) == 2
    assert journal == []


async def test_a_leaf_actor_keeps_the_runtime_default_shutdown() -> None:
    """An actor without children is cancelled at the runtime's default shutdown."""
    journal: list[str] = []
    async with trouper.open_runtime(shutdown=3) as rt:
        ref = await rt.spawn(SlowToStop, 8, journal)
        assert await _time_to_stop(rt, ref) == 3
    assert journal == []
