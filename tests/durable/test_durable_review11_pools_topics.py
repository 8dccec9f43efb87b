"""What a durable subscriber can be subscribed for: only messages its mailbox can store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable, durable_ref
from trouper.routing import Balancing, Resize
from trouper.topics import Published


class Subscriber(trouper.Actor):
    def __init__(self, got: list[object]) -> None:
        self.got = got

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.got.append(message)

    @trouper.handler
    async def published(self, message: Published) -> None:
        self.got.append(message)

    @trouper.handler
    async def report(self, message: trouper.DeadLetter) -> None:
        self.got.append(message)


async def test_a_durable_subscriber_with_subject_is_refused_at_subscribe(tmp_path: Path) -> None:
    """A Published cannot be stored: subscribe refuses, instead of each publish dead-lettering."""
    got: list[object] = []
    letters: list[trouper.DeadLetter] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.dead_letters.listen(letters.append)
        ref = await rt.spawn(Subscriber, got, name="sub", mailbox=Durable())
        message = (
            "trouper://local/sub has a durable mailbox, which stores only registered "
            "message types: subscribe it without with_subject=True (Published carries "
            "any message and cannot be stored)"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            rt.topics.subscribe(ref, "charges.>", with_subject=True)
        assert len(rt.topics) == 0
        rt.topics.subscribe(ref, "charges.>")
        assert await rt.topics.publish("charges.eu", Charge("a", 1)) == 1
        await trio.sleep(1)
    assert got == [Charge("a", 1)]
    assert letters == []


async def test_a_durable_subscriber_to_system_topics_is_refused_at_subscribe(
    tmp_path: Path,
) -> None:
    """The runtime's reports cannot be stored either: subscribe refuses a durable actor for them."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Subscriber, [], name="sub", mailbox=Durable())
        message = (
            "trouper://local/sub has a durable mailbox, which stores only registered "
            "message types: the runtime's reports on 'trouper.system.>' cannot be stored; "
            "subscribe an actor with an in-memory mailbox to them"
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            rt.topics.subscribe(ref, "trouper.system.>")
        assert len(rt.topics) == 0


class Worker(trouper.Actor):
    """Replies with the job's id."""

    @trouper.handler
    async def charge(self, message: Charge) -> str:
        return message.order_id


async def test_a_durable_ref_to_a_pool_asks_it_after_a_shrink(tmp_path: Path) -> None:
    """The ref stands for the pool, not for the member started last: a resize leaves it working."""
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(Worker, 2, router=Balancing(), name="jobs", mailbox=Durable())
        ref = durable_ref(rt, "jobs")
        assert await ref.ask(Charge("a", 1)) == "a"
        await jobs.ask(Resize(1))  # member-2, started last, stops; the pool lives on
        assert await ref.ask(Charge("b", 1)) == "b"


class Watcher(trouper.Actor):
    """Watches a ref from its start; records the path of each Terminated."""

    def __init__(self, ref: trouper.ActorRef[object], seen: list[str]) -> None:
        self.ref = ref
        self.seen = seen

    async def on_start(self) -> None:
        self.ctx.watch(self.ref)

    @trouper.handler
    async def terminated(self, message: trouper.Terminated) -> None:
        self.seen.append(message.ref.address.path)


async def test_a_durable_ref_to_a_pool_watches_the_pool(tmp_path: Path) -> None:
    """Watching through the ref is told when the pool stops, not when a resize stops a member."""
    seen: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(Worker, 2, router=Balancing(), name="jobs", mailbox=Durable())
        await rt.spawn(Watcher, durable_ref(rt, "jobs"), seen)
        await jobs.ask(Resize(1))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []
        await rt.stop(jobs)
        await trio.testing.wait_all_tasks_blocked()
        assert seen == ["/jobs"]
