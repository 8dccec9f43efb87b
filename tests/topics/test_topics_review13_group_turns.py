"""A ref holds one turn in a queue group however many of its subscriptions are members."""

from __future__ import annotations

import trio
import trio.testing

from trouper import Actor, Runtime


class Worker(Actor):
    """Joins the group in ``on_start`` (so again after each restart); journals what it gets."""

    def __init__(self, name: str, journal: list[tuple[str, object]]) -> None:
        self.name = name
        self.journal = journal

    async def on_start(self) -> None:
        self.ctx.runtime.topics.subscribe(self.ctx.self_ref, "jobs", queue="workers")

    async def receive(self, message: object) -> None:
        if message == "boom":
            raise ValueError("boom")
        self.journal.append((self.name, message))


async def test_a_restarted_member_that_joins_again_keeps_one_turn(runtime: Runtime) -> None:
    """A member that rejoined in its on_start after a crash still gets every other message."""
    journal: list[tuple[str, object]] = []
    a = await runtime.spawn(Worker, "a", journal)
    await runtime.spawn(Worker, "b", journal)
    await a.tell("boom")
    await trio.testing.wait_all_tasks_blocked()
    for i in range(6):
        await runtime.topics.publish("jobs", i)
    await trio.testing.wait_all_tasks_blocked()
    assert sorted(journal) == [("a", 0), ("a", 2), ("a", 4), ("b", 1), ("b", 3), ("b", 5)]


async def test_cancelling_one_of_two_memberships_keeps_the_ref_in_turn(runtime: Runtime) -> None:
    """A ref subscribed twice to a group keeps its one turn until both are cancelled."""
    journal: list[tuple[str, object]] = []
    a = await runtime.spawn(Worker, "a", journal)
    await runtime.spawn(Worker, "b", journal)
    first = runtime.topics.subscriptions_of(a)[0]
    runtime.topics.subscribe(a, "jobs", queue="workers")
    first.cancel()
    for i in range(4):
        await runtime.topics.publish("jobs", i)
    await trio.testing.wait_all_tasks_blocked()
    assert sorted(name for name, _ in journal) == ["a", "a", "b", "b"]
