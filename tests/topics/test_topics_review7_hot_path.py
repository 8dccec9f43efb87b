"""Review 7: a publish to subscribers with room is one schedule point, not one per subscriber."""

from __future__ import annotations

import trio
import trio.lowlevel
import trio.testing
from topic_actors import Collector

from trouper import Runtime
from trouper.runtime.lowlevel import Instrument, SendKind


class TaskSteps(trio.abc.Instrument):
    """Counts the steps one task takes (each one after the first is a return from a yield)."""

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.steps += 1


async def test_a_publish_to_many_subscribers_with_room_yields_once(runtime: Runtime) -> None:
    """Ten subscribers with room: the publisher is scheduled once more, not ten times."""
    seen: list[object] = []
    for _ in range(10):
        runtime.topics.subscribe(await runtime.spawn(Collector, seen), "ticks")
    await trio.testing.wait_all_tasks_blocked()
    steps = TaskSteps(trio.lowlevel.current_task())
    trio.lowlevel.add_instrument(steps)
    try:
        reached = await runtime.topics.publish("ticks", 1)
    finally:
        trio.lowlevel.remove_instrument(steps)
    assert (reached, steps.steps) == (10, 1)
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [1] * 10


class Kinds(Instrument):
    """Records the kind of every send the engine reports."""

    def __init__(self) -> None:
        self.kinds: list[SendKind] = []

    def message_sent(self, actor: object, message: object, kind: SendKind) -> None:
        self.kinds.append(kind)


async def test_a_backpressure_publish_is_reported_as_a_tell(runtime: Runtime) -> None:
    """Put in at once, each delivery still reaches the instruments as the tell it stands for."""
    seen: list[object] = []
    for _ in range(2):
        runtime.topics.subscribe(await runtime.spawn(Collector, seen), "ticks")
    kinds = Kinds()
    runtime.instruments.add(kinds)
    assert await runtime.topics.publish("ticks", 1) == 2
    assert kinds.kinds == [SendKind.TELL, SendKind.TELL]
