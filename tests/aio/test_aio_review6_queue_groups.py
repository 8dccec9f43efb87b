"""Asyncio code joins queue groups as Trio code does: ``AioRuntime.subscribe(..., queue=)``."""

from __future__ import annotations

import inspect

import pytest
from aio_actors import Gates, Holder, Note, run

from trouper.aio import AioRuntime, open_runtime
from trouper.topics import TopicRegistry

pytestmark = pytest.mark.real_clock


def test_subscribers_in_a_queue_group_share_the_messages() -> None:
    """Two members of one queue group get each publish once between them, in turn."""
    first: list[str] = []
    second: list[str] = []

    async def main() -> list[int]:
        async with open_runtime() as rt:
            gates = await Gates.make(rt)
            one = await rt.spawn(Holder, gates.started, gates.gate, first)
            two = await rt.spawn(Holder, gates.started, gates.gate, second)
            await rt.subscribe(one, "jobs.*", queue="workers")
            await rt.subscribe(two, "jobs.*", queue="workers")
            reached = [await rt.publish("jobs.new", Note(f"job {n}")) for n in range(4)]
            await one.ask(Note("flush"))
            await two.ask(Note("flush"))
            return reached

    assert run(main) == [1, 1, 1, 1]
    assert sorted(first + second) == ["flush", "flush", "job 0", "job 1", "job 2", "job 3"]
    assert len(first) == len(second) == 3


def test_an_invalid_queue_name_is_refused() -> None:
    """A wildcard queue name raises the registry's ``ValueError`` in the caller."""

    async def main() -> None:
        async with open_runtime() as rt:
            gates = await Gates.make(rt)
            one = await rt.spawn(Holder, gates.started, gates.gate, [])
            with pytest.raises(ValueError, match=r"queue"):
                await rt.subscribe(one, "jobs.*", queue="work.*")

    run(main)


def test_subscribe_takes_the_options_of_the_topic_registry() -> None:
    """``AioRuntime.subscribe`` has the keyword options of ``TopicRegistry.subscribe``."""
    ours = inspect.signature(AioRuntime.subscribe).parameters
    theirs = inspect.signature(TopicRegistry.subscribe).parameters
    assert list(ours) == list(theirs)
    assert all(ours[name].default == theirs[name].default for name in theirs)
