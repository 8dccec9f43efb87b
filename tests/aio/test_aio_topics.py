"""Topics from asyncio code: publish, subscribe, unsubscribe; and ``run``/``run_sync``."""

from __future__ import annotations

import pytest
import trio
from aio_actors import Gates, Holder, Note, run

import trouper
from trouper.aio import open_runtime
from trouper.topics import Published, Subscription

pytestmark = pytest.mark.real_clock


def test_publish_reaches_subscribers_and_counts_them() -> None:
    """``await rt.publish`` delivers to each matching subscriber and returns how many."""
    journal: list[str] = []

    async def main() -> int:
        async with open_runtime() as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, journal)
            subscription = await rt.subscribe(holder, "news.*")
            assert isinstance(subscription, Subscription)
            reached = await rt.publish("news.today", Note("published"))
            await rt.publish("sport.today", Note("not subscribed"))
            await holder.ask(Note("flush"))
            return reached

    assert run(main) == 1
    assert journal == ["published", "flush"]


def test_unsubscribe_ends_delivery() -> None:
    """After ``await rt.unsubscribe``, publishing no longer reaches the actor."""
    journal: list[str] = []

    async def main() -> int:
        async with open_runtime() as rt:
            gates = await Gates.make(rt)
            holder = await rt.spawn(Holder, gates.started, gates.gate, journal)
            subscription = await rt.subscribe(holder.ref, "news.>")
            await rt.unsubscribe(subscription)
            assert not subscription.active
            return await rt.publish("news.today", Note("lost"))

    assert run(main) == 0
    assert journal == []


def test_an_invalid_subject_raises_invalid_subject() -> None:
    """Topic errors are the trouper errors: ``InvalidSubject`` for a wildcard publish."""

    async def main() -> None:
        async with open_runtime() as rt:
            with pytest.raises(trouper.InvalidSubject):
                await rt.publish("news.*", Note("wild"))

    run(main)


def test_published_wrappers_carry_the_subject() -> None:
    """A ``with_subject`` subscriber's handler sees the subject through ``Published``."""

    class Subjects(trouper.Actor):
        def __init__(self) -> None:
            self.subjects: list[str] = []

        @trouper.handler
        async def published(self, message: Published) -> None:
            self.subjects.append(message.subject)

        @trouper.handler
        async def report(self, message: Note) -> list[str]:
            return self.subjects

    async def main() -> object:
        async with open_runtime() as rt:
            subjects = await rt.spawn(Subjects)
            await rt.subscribe(subjects, "news.*", with_subject=True)
            await rt.publish("news.today", "hello")
            return await subjects.ask(Note("report"))

    assert run(main) == ["news.today"]


def test_run_and_run_sync_reach_the_trio_api() -> None:
    """``rt.run`` awaits a Trio function in Trio; ``rt.run_sync`` calls one there."""

    async def main() -> tuple[bool, float]:
        async with open_runtime() as rt:
            await rt.run(trio.sleep, 0)
            in_task = await rt.run_sync(trio.lowlevel.in_trio_task)
            return in_task, await rt.run_sync(trio.current_time)

    in_task, now = run(main)
    assert in_task
    assert now > 0


def test_errors_of_run_reach_the_caller() -> None:
    """What ``fn`` raises in Trio is raised in the asyncio caller."""

    def fail() -> None:
        raise LookupError("from trio")

    async def main() -> None:
        async with open_runtime() as rt:
            with pytest.raises(LookupError, match=r"^from trio$"):
                await rt.run_sync(fail)

    run(main)
