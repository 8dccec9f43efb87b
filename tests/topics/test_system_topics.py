"""System topics: lifecycle events and dead letters published on ``trouper.system.*``."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing
from topic_actors import Collector, Gated

import trouper
from trouper import ActorEvent, ActorRef, Address, DeadLetter, EventKind, OneForOne
from trouper.topics import SYSTEM_DEAD_LETTERS, Overflow, Published, system_subject


def kinds(seen: list[object]) -> list[tuple[EventKind, str]]:
    """The (kind, path) of each ActorEvent in ``seen``."""
    return [(e.kind, e.address.path) for e in seen if isinstance(e, ActorEvent)]


async def test_one_subscription_watches_a_crash_and_restart() -> None:
    """``trouper.system.actor.>`` sees failed, restarted and started for a crashing actor."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Collector, seen, name="watcher")
        rt.topics.subscribe(watcher, "trouper.system.actor.>")
        crasher = await rt.spawn(Collector, [], name="crasher")
        await crasher.tell("boom")
        await trio.testing.wait_all_tasks_blocked()
        assert kinds(seen) == [
            (EventKind.STARTED, "/crasher"),
            (EventKind.FAILED, "/crasher"),
            (EventKind.RESTARTED, "/crasher"),
            (EventKind.STARTED, "/crasher"),
        ]
        failed = seen[1]
        assert isinstance(failed, ActorEvent)
        assert isinstance(failed.reason, ValueError)


async def test_stop_and_give_up_are_published() -> None:
    """A supervisor's give-up and the stop that follows reach ``gave_up`` and ``stopped``."""
    seen: list[object] = []
    async with trouper.open_runtime(root_strategy=OneForOne(max_restarts=0)) as rt:
        watcher = await rt.spawn(Collector, seen)
        rt.topics.subscribe(watcher, "trouper.system.actor.gave_up")
        rt.topics.subscribe(watcher, "trouper.system.actor.stopped")
        crasher = await rt.spawn(Collector, [], name="crasher")
        await crasher.tell("boom")
        await trio.testing.wait_all_tasks_blocked()
        assert kinds(seen) == [(EventKind.GAVE_UP, "/"), (EventKind.STOPPED, "/crasher")]


async def test_dead_letters_are_published() -> None:
    """``trouper.system.dead_letters`` carries each DeadLetter as it is posted."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, seen), SYSTEM_DEAD_LETTERS)
        target = await rt.spawn(Collector, [], name="target")
        await rt.stop(target)
        await target.tell("late")
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [DeadLetter("late", target.address, "actor stopped")]


async def test_system_reports_can_carry_their_subject() -> None:
    """A ``with_subject`` system subscription receives ``Published(subject, event)``."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, seen), "trouper.system.>", with_subject=True)
        await rt.spawn(Collector, [], name="new")
        await trio.testing.wait_all_tasks_blocked()
        [report] = seen
    assert isinstance(report, Published)
    assert report.subject == system_subject(EventKind.STARTED) == "trouper.system.actor.started"
    assert isinstance(report.message, ActorEvent)
    assert report.message.address.path == "/new"


async def test_catch_all_patterns_do_not_see_system_reports() -> None:
    """Only patterns that begin with ``trouper.system`` receive the runtime's reports."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, seen)
        for pattern in (">", "trouper.>", "*.system.>", "trouper.*.actor.>"):
            rt.topics.subscribe(ref, pattern)
        crasher = await rt.spawn(Collector, [])
        await crasher.tell("boom")
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []
        assert await rt.topics.publish("trouper.app", 1) == 1


async def test_system_subscriptions_drop_and_refuse_backpressure() -> None:
    """System patterns default to DROP; asking for BACKPRESSURE is a ValueError."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [])
        assert rt.topics.subscribe(ref, "trouper.system.>").overflow is Overflow.DROP
        with pytest.raises(
            ValueError,
            match=(
                r"^system topics are never waited for: subscribe to 'trouper\.system\.>' "
                r"with overflow=Overflow\.DROP \(the default for them\)$"
            ),
        ):
            rt.topics.subscribe(ref, "trouper.system.>", overflow=Overflow.BACKPRESSURE)


async def test_a_full_system_subscriber_loses_reports_counted_not_dead_lettered() -> None:
    """Reports a full subscriber cannot take are counted and make no dead letter of their own."""
    gate = trio.Event()
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        slow = await rt.spawn(Gated, gate, seen, mailbox_size=1)
        subscription = rt.topics.subscribe(slow, "trouper.system.>")
        target = await rt.spawn(Collector, [])
        await trio.testing.wait_all_tasks_blocked()
        # The subscriber holds the "started" report; "stopped" fills its mailbox.
        await rt.stop(target)
        await target.tell("late")
        await target.tell("later")
        assert (subscription.dropped, rt.topics.dropped) == (2, 2)
        assert rt.dead_letters.count == 2
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    path = target.address.path
    assert kinds(seen) == [(EventKind.STARTED, path), (EventKind.STOPPED, path)]


async def test_dropped_dead_letter_reports_do_not_feed_back() -> None:
    """A slow drop subscriber that also watches dead letters cannot loop on its own drops."""
    gate = trio.Event()
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        slow = await rt.spawn(Gated, gate, seen, mailbox_size=1)
        rt.topics.subscribe(slow, "ticks", overflow=Overflow.DROP)
        watching = rt.topics.subscribe(slow, SYSTEM_DEAD_LETTERS)
        assert await rt.topics.publish("ticks", 0) == 1
        await trio.testing.wait_all_tasks_blocked()
        assert await rt.topics.publish("ticks", 1) == 1
        assert await rt.topics.publish("ticks", 2) == 0
        assert await rt.topics.publish("ticks", 3) == 0
        assert rt.dead_letters.count == 2
        assert (rt.topics.dropped, watching.dropped) == (4, 2)
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [0, 1]


async def test_a_stopping_dead_letter_watcher_is_not_sent_its_own_dead_letters() -> None:
    """The queued mail of a stopping watcher becomes dead letters once, not letters about them."""
    gate = trio.Event()
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        watcher = await rt.spawn(Gated, gate, seen, shutdown=1.0)
        rt.topics.subscribe(watcher, SYSTEM_DEAD_LETTERS)
        for n in range(3):
            await watcher.tell(n)
        await trio.testing.wait_all_tasks_blocked()
        await rt.stop(watcher)
        assert [(d.message, d.reason) for d in rt.dead_letters.recent] == [
            (1, "actor stopped"),
            (2, "actor stopped"),
        ]
        assert len(rt.topics) == 0
    assert seen == []


async def test_reports_start_with_the_registry() -> None:
    """The registry listens to the runtime only once ``rt.topics`` is first used."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Collector, [], name="early")
        assert rt.topics.subscriptions_of(await rt.spawn(Collector, [])) == ()
        seen: list[object] = []
        rt.topics.subscribe(await rt.spawn(Collector, seen), "trouper.system.actor.started")
        await rt.spawn(Collector, [], name="late")
        await trio.testing.wait_all_tasks_blocked()
        assert kinds(seen) == [(EventKind.STARTED, "/late")]


@attrs.define
class Unreachable:
    """An endpoint like a transport that is down: every message becomes a dead letter."""

    runtime: trouper.Runtime
    address: Address

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        self.send_nowait(message)
        await trio.lowlevel.checkpoint()
        return False

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        self.runtime.dead_letters.post(DeadLetter(message, self.address, "unreachable"))
        return False

    async def ask(self, message: object) -> object:
        raise NotImplementedError

    def watch(self, watcher: object) -> None:
        raise NotImplementedError

    def unwatch(self, watcher: object) -> None:
        raise NotImplementedError


async def test_dead_letters_caused_by_a_report_are_not_reported_again() -> None:
    """A report whose delivery itself fails makes one dead letter, not an endless chain."""
    async with trouper.open_runtime() as rt:
        address = Address("elsewhere", "/down")
        rt.topics.subscribe(ActorRef(address, Unreachable(rt, address)), SYSTEM_DEAD_LETTERS)
        target = await rt.spawn(Collector, [])
        await rt.stop(target)
        await target.tell("late")
        assert [(d.message, d.reason) for d in rt.dead_letters.recent] == [
            ("late", "actor stopped"),
            (DeadLetter("late", target.address, "actor stopped"), "unreachable"),
        ]
