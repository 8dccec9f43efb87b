"""Review 5: a report lost after its delivery (as across a broken link) is not reported again."""

from __future__ import annotations

from topic_actors import Idle

from trouper import ActorRef, Address, Runtime
from trouper.runtime import ActorEvent, DeadLetter, EventKind
from trouper.topics import SYSTEM_DEAD_LETTERS, Published, system_subject


class Link:
    """Another node's endpoint whose link is down: what it takes is lost later, on ``lose()``.

    As ``trouper.remote``'s outbox: ``send_nowait`` queues the message, and a
    batch that cannot be written turns into dead letters afterwards, outside
    the delivery that queued it.
    """

    def __init__(self, runtime: Runtime, address: Address) -> None:
        self.runtime = runtime
        self.address = address
        self.queued: list[object] = []

    def lose(self) -> int:
        lost, self.queued = self.queued, []
        for message in lost:
            self.runtime.dead_letters.post(DeadLetter(message, self.address, "unreachable"))
        return len(lost)

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        raise NotImplementedError

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        self.queued.append(message)
        return True

    async def ask(self, message: object) -> object:
        raise NotImplementedError

    def watch(self, watcher: object) -> None:
        raise NotImplementedError

    def unwatch(self, watcher: object) -> None:
        raise NotImplementedError


async def test_a_dead_letter_report_lost_later_is_not_reported_to_its_subscriber(
    runtime: Runtime,
) -> None:
    """One dead letter, lost on the way to a far subscriber, is not sent back to it for ever."""
    address = Address("elsewhere", "/watcher")
    link = Link(runtime, address)
    runtime.topics.subscribe(ActorRef(address, link), SYSTEM_DEAD_LETTERS)
    runtime.dead_letters.post(DeadLetter("late", Address("local", "/gone"), "actor stopped"))
    assert [link.lose() for _ in range(3)] == [1, 0, 0]
    reported = [d.message for d in runtime.dead_letters.recent]
    assert reported == ["late", DeadLetter("late", Address("local", "/gone"), "actor stopped")]


async def test_a_wrapped_report_lost_later_is_not_reported_to_its_subscriber(
    runtime: Runtime,
) -> None:
    """The same with with_subject: a lost Published report makes one dead letter, no chain."""
    address = Address("elsewhere", "/watcher")
    link = Link(runtime, address)
    runtime.topics.subscribe(ActorRef(address, link), "trouper.system.>", with_subject=True)
    await runtime.spawn(Idle, name="idle")
    assert [link.lose() for _ in range(3)] == [1, 0, 0]
    (lost,) = runtime.dead_letters.recent
    assert isinstance(lost.message, Published)
    assert lost.message.subject == system_subject(EventKind.STARTED)
    assert isinstance(lost.message.message, ActorEvent)


async def test_reports_lost_by_two_subscribers_do_not_bounce_between_them(
    runtime: Runtime,
) -> None:
    """Each one's lost report is a dead letter in the office, not a report to the other."""
    far = Link(runtime, Address("elsewhere", "/far"))
    near = Link(runtime, Address("elsewhere", "/near"))
    runtime.topics.subscribe(ActorRef(far.address, far), SYSTEM_DEAD_LETTERS)
    runtime.topics.subscribe(ActorRef(near.address, near), SYSTEM_DEAD_LETTERS)
    first = DeadLetter("late", Address("local", "/gone"), "actor stopped")
    runtime.dead_letters.post(first)
    assert [(far.lose(), near.lose()) for _ in range(3)] == [(1, 1), (0, 0), (0, 0)]
    assert list(runtime.dead_letters.recent) == [
        first,
        DeadLetter(first, far.address, "unreachable"),
        DeadLetter(first, near.address, "unreachable"),
    ]
