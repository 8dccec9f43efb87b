"""A supervisor's stop waits as long as its children's own shutdown allows (OTP's infinity)."""

from __future__ import annotations

import math

import attrs
import trio
import trio.testing

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


@attrs.frozen
class Crash:
    pass


@attrs.frozen
class Stuck:
    pass


class Sibling(Actor):
    """Hangs in a handler on ``Stuck``; fails on ``Crash``; notes when each instance starts."""

    def __init__(self, starts: list[str], name: str) -> None:
        self.starts = starts
        self.name = name

    async def on_start(self) -> None:
        self.starts.append(f"{self.name}@{trio.current_time():g}")

    @trouper.handler
    async def stuck(self, message: Stuck) -> None:
        await trio.sleep_forever()

    @trouper.handler
    async def crash(self, message: Crash) -> None:
        raise RuntimeError("crash")


async def test_a_restart_cancels_a_sibling_handler_that_outlives_its_shutdown() -> None:
    """OneForAll: a sibling stuck in a handler is cancelled after its shutdown (3 s), restarted."""
    starts: list[str] = []
    async with trouper.open_runtime() as rt:
        children = [
            ChildSpec("stuck", Sibling, (starts, "stuck"), shutdown=3),
            ChildSpec("crashing", Sibling, (starts, "crashing")),
        ]
        sup = await rt.spawn(Supervisor, children, strategy=trouper.OneForAll())
        await trio.testing.wait_all_tasks_blocked()
        stuck = rt.find(f"{sup.address.path}/stuck")
        crashing = rt.find(f"{sup.address.path}/crashing")
        assert stuck is not None
        assert crashing is not None
        answers: list[object] = []

        async def ask_the_stuck_one() -> None:
            try:
                answers.append(await stuck.ask(Stuck()))
            except trouper.ActorStopped as error:
                answers.append(error)

        # (Without the deadline, a restart that waits for the handler would never end.)
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_the_stuck_one)
                await trio.testing.wait_all_tasks_blocked()
                await crashing.tell(Crash())
            await trio.sleep(10)  # time for the restart to be over
        assert [type(answer) for answer in answers] == [trouper.ActorStopped]
        assert starts == ["stuck@0", "crashing@0", "stuck@3", "crashing@3"]


async def test_restart_by_hand_waits_for_a_running_handler_at_most_its_shutdown() -> None:
    """rt.restart of an actor stuck in a handler returns after its shutdown, restarted."""
    starts: list[str] = []
    async with trouper.open_runtime(shutdown=2) as rt:
        ref = await rt.spawn(Sibling, starts, "one")
        ref.tell_nowait(Stuck())
        await trio.testing.wait_all_tasks_blocked()
        with trio.fail_after(60):  # (a restart that waits for the handler would never end)
            await rt.restart(ref)
        assert trio.current_time() == 2
        assert starts == ["one@0", "one@2"]
