"""Queue groups (one member per message) and the relay that carries topics to other nodes."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing
from topic_actors import Collector, Gated

import trouper
from trouper import ActorRef, Address
from trouper.runtime import DeadLetter
from trouper.topics import Overflow, Published, Subscription


@attrs.define
class FakeRelay:
    """A relay that records what it is told; ``shares`` decides what ``relay`` returns."""

    shares: bool = False
    published: list[tuple[str, object]] = attrs.field(factory=list)
    groups: list[tuple[str, str, str]] = attrs.field(factory=list)
    seen_at_relay: list[int] = attrs.field(factory=list)
    watched: list[object] | None = None
    fail: BaseException | None = None

    async def relay(self, subject: str, message: object) -> bool:
        if self.fail is not None:
            raise self.fail
        self.published.append((subject, message))
        if self.watched is not None:
            self.seen_at_relay.append(len(self.watched))
        await trio.lowlevel.checkpoint()
        return self.shares

    def group_joined(self, pattern: str, queue: str) -> None:
        self.groups.append(("joined", pattern, queue))

    def group_left(self, pattern: str, queue: str) -> None:
        self.groups.append(("left", pattern, queue))


async def test_a_queue_group_gives_each_message_to_one_member_in_turn() -> None:
    """Three members share six messages two each, round-robin, each publish counting one."""
    seen: list[list[object]] = [[], [], []]
    async with trouper.open_runtime() as rt:
        for journal in seen:
            rt.topics.subscribe(await rt.spawn(Collector, journal), "jobs.*", queue="workers")
        counts = [await rt.topics.publish("jobs.new", n) for n in range(6)]
        await trio.testing.wait_all_tasks_blocked()
    assert counts == [1] * 6
    assert seen == [[0, 3], [1, 4], [2, 5]]


async def test_plain_subscribers_and_every_group_each_get_a_publish() -> None:
    """A plain subscriber, and one member of each of two groups, get every message."""
    plain: list[object] = []
    first: list[object] = []
    second: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, plain), "jobs.>")
        rt.topics.subscribe(await rt.spawn(Collector, first), "jobs.>", queue="a")
        rt.topics.subscribe(await rt.spawn(Collector, second), "jobs.>", queue="b")
        assert await rt.topics.publish("jobs.new", "x") == 3
        await trio.testing.wait_all_tasks_blocked()
    assert plain == first == second == ["x"]


async def test_one_queue_name_on_two_patterns_makes_two_groups() -> None:
    """A group is the (pattern, queue) pair, as in NATS: each pattern's group gets a copy."""
    star: list[object] = []
    tail: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, star), "jobs.*", queue="w")
        rt.topics.subscribe(await rt.spawn(Collector, tail), "jobs.>", queue="w")
        assert await rt.topics.publish("jobs.new", 1) == 2
        await trio.testing.wait_all_tasks_blocked()
    assert star == tail == [1]


async def test_a_member_that_stops_leaves_its_group() -> None:
    """Once a member has stopped, the others share the messages; the group's count drops."""
    kept: list[object] = []
    gone: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, kept), "jobs", queue="w")
        leaving = await rt.spawn(Collector, gone)
        rt.topics.subscribe(leaving, "jobs", queue="w")
        assert len(rt.topics) == 2
        await rt.stop(leaving)
        assert len(rt.topics) == 1
        for n in range(3):
            await rt.topics.publish("jobs", n)
        await trio.testing.wait_all_tasks_blocked()
    assert (kept, gone) == ([0, 1, 2], [])


async def test_with_subject_and_drop_apply_to_group_members() -> None:
    """A member's own options hold: wrapped in Published, dropped when full."""
    seen: list[object] = []
    letters: list[DeadLetter] = []
    gate = trio.Event()
    async with trouper.open_runtime() as rt:
        rt.dead_letters.listen(letters.append)
        member = await rt.spawn(Gated, gate, seen, mailbox_size=1)
        rt.topics.subscribe(member, "jobs", queue="w", with_subject=True, overflow=Overflow.DROP)
        assert await rt.topics.publish("jobs", 0) == 1
        await trio.testing.wait_all_tasks_blocked()  # the member holds 0, its mailbox is empty
        assert [await rt.topics.publish("jobs", n) for n in (1, 2)] == [1, 0]
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [Published("jobs", 0), Published("jobs", 1)]
    assert [(letter.message, letter.reason) for letter in letters] == [
        (Published("jobs", 2), "slow subscriber")
    ]


async def test_a_subscription_shows_its_queue() -> None:
    """``queue`` is the group's name, or None for a plain subscription."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [])
        grouped = rt.topics.subscribe(ref, "jobs", queue="workers")
        plain = rt.topics.subscribe(ref, "other")
        assert (grouped.queue, plain.queue) == ("workers", None)
        assert "queue='workers'" in repr(grouped)
        assert rt.topics.subscriptions_of(ref) == (grouped, plain)


async def test_system_topics_have_no_queue_groups() -> None:
    """A queue on a trouper.system pattern is refused, saying why."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [])
        with pytest.raises(
            ValueError,
            match=r"^system topics have no queue groups: subscribe to 'trouper.system.>' "
            r"without queue$",
        ):
            rt.topics.subscribe(ref, "trouper.system.>", queue="w")


@pytest.mark.parametrize("queue", ["", "two words", "w.*", 3])
async def test_a_queue_name_is_made_of_subject_tokens(queue: object) -> None:
    """Names with empty tokens, whitespace or wildcards (or not a str) are refused."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [])
        with pytest.raises(ValueError, match=r"^queue must be "):
            rt.topics.subscribe(ref, "jobs", queue=queue)  # type: ignore[arg-type]


async def test_the_relay_is_told_of_a_publish_before_local_delivery() -> None:
    """The relay sees the publish while no local subscriber has it yet."""
    seen: list[object] = []
    relay = FakeRelay(watched=seen)
    async with trouper.open_runtime() as rt:
        rt.topics.set_relay(relay)
        rt.topics.subscribe(await rt.spawn(Collector, seen), "news.>")
        assert await rt.topics.publish("news.today", "hello") == 1
        await trio.testing.wait_all_tasks_blocked()
    assert relay.published == [("news.today", "hello")]
    assert relay.seen_at_relay == [0]
    assert seen == ["hello"]


async def test_a_relay_that_shares_the_subject_leaves_groups_to_the_cluster() -> None:
    """A shared subject reaches plain subscribers here, never the group members here."""
    plain: list[object] = []
    member: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.set_relay(FakeRelay(shares=True))
        rt.topics.subscribe(await rt.spawn(Collector, plain), "jobs")
        rt.topics.subscribe(await rt.spawn(Collector, member), "jobs", queue="w")
        assert await rt.topics.publish("jobs", 1) == 1
        await trio.testing.wait_all_tasks_blocked()
    assert (plain, member) == ([1], [])


async def test_a_relay_that_keeps_the_subject_local_leaves_groups_here() -> None:
    """A subject the relay does not share serves the group members here."""
    member: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.set_relay(FakeRelay(shares=False))
        rt.topics.subscribe(await rt.spawn(Collector, member), "jobs", queue="w")
        assert await rt.topics.publish("jobs", 1) == 1
        await trio.testing.wait_all_tasks_blocked()
    assert member == [1]


async def test_a_relay_error_leaves_publish_with_nothing_delivered() -> None:
    """An error from the relay (an unencodable message) reaches the publisher first."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.set_relay(FakeRelay(fail=TypeError("not registered")))
        rt.topics.subscribe(await rt.spawn(Collector, seen), "jobs")
        with pytest.raises(TypeError, match=r"^not registered$"):
            await rt.topics.publish("jobs", 1)
        await trio.testing.wait_all_tasks_blocked()
    assert seen == []


async def test_the_relay_hears_of_groups_joining_and_leaving() -> None:
    """Existing groups when set, then each group's first member in and last member out."""
    relay = FakeRelay()
    async with trouper.open_runtime() as rt:
        early = await rt.spawn(Collector, [])
        rt.topics.subscribe(early, "a", queue="w")
        rt.topics.set_relay(relay)
        second = rt.topics.subscribe(await rt.spawn(Collector, []), "a", queue="w")
        other = rt.topics.subscribe(early, "b.*", queue="v")
        second.cancel()
        await rt.stop(early)
        other.cancel()
    assert relay.groups == [
        ("joined", "a", "w"),
        ("joined", "b.*", "v"),
        ("left", "a", "w"),
        ("left", "b.*", "v"),
    ]


async def test_unsetting_the_relay_serves_groups_here_again() -> None:
    """After ``set_relay(None)`` publishes are local only, groups included."""
    member: list[object] = []
    relay = FakeRelay(shares=True)
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, member), "jobs", queue="w")
        rt.topics.set_relay(relay)
        rt.topics.set_relay(None)
        assert await rt.topics.publish("jobs", 1) == 1
        await trio.testing.wait_all_tasks_blocked()
    assert (member, relay.published) == ([1], [])


async def test_deliver_nowait_never_waits_on_a_full_subscriber() -> None:
    """A backpressure subscriber goes through the offer; a full drop subscriber loses it."""
    gate = trio.Event()
    kept: list[object] = []
    dropped: list[object] = []
    letters: list[DeadLetter] = []
    held: list[tuple[ActorRef[object], object]] = []

    def offer(subscription: Subscription, item: object) -> bool:
        try:
            return subscription.ref.endpoint.send_nowait(item)
        except trouper.MailboxFull:
            held.append((subscription.ref, item))
            return True

    async with trouper.open_runtime() as rt:
        rt.dead_letters.listen(letters.append)
        slow = await rt.spawn(Gated, gate, kept, mailbox_size=1)
        lossy = await rt.spawn(Gated, gate, dropped, mailbox_size=1)
        rt.topics.subscribe(slow, "jobs")
        rt.topics.subscribe(lossy, "jobs", overflow=Overflow.DROP)
        rt.topics.subscribe(await rt.spawn(Collector, []), "jobs", queue="w")
        counts = [rt.topics.deliver_nowait("jobs", n, offer) for n in range(3)]
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert counts == [2, 1, 1]
    assert held == [(slow, 1), (slow, 2)]
    assert [(letter.message, letter.reason) for letter in letters] == [
        (1, "slow subscriber"),
        (2, "slow subscriber"),
    ]
    assert (kept, dropped) == ([0], [0])


@attrs.define
class DeadEnd:
    """An endpoint whose every message becomes a dead letter (an actor that has stopped)."""

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        return False

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        return False

    async def ask(self, message: object) -> object:
        raise NotImplementedError

    def watch(self, watcher: object) -> None:
        raise NotImplementedError

    def unwatch(self, watcher: object) -> None:
        raise NotImplementedError


def offer_now(subscription: Subscription, item: object) -> bool:
    """Deliver at once (the tests' mailboxes have room)."""
    return subscription.ref.endpoint.send_nowait(item)


async def test_deliver_to_group_gives_one_member_the_message_in_turn() -> None:
    """Members take turns, as for a local publish; an unknown group is False."""
    first: list[object] = []
    second: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, first), "jobs.*", queue="w")
        rt.topics.subscribe(await rt.spawn(Collector, second), "jobs.*", queue="w")
        results = [
            rt.topics.deliver_to_group("jobs.*", "w", "jobs.x", n, offer_now) for n in range(3)
        ]
        missing = rt.topics.deliver_to_group("jobs.*", "other", "jobs.x", 9, offer_now)
        await trio.testing.wait_all_tasks_blocked()
    assert (results, missing) == ([True, True, True], False)
    assert (first, second) == ([0, 2], [1])


async def test_deliver_to_group_passes_over_a_member_that_cannot_take_it() -> None:
    """A member whose message became a dead letter is skipped for the next one."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        gone = ActorRef(Address("elsewhere", "/gone"), DeadEnd())
        rt.topics.subscribe(gone, "jobs", queue="w")
        rt.topics.subscribe(await rt.spawn(Collector, seen), "jobs", queue="w")
        results = [rt.topics.deliver_to_group("jobs", "w", "jobs", n, offer_now) for n in range(2)]
        await trio.testing.wait_all_tasks_blocked()
    assert (results, seen) == ([True, True], [0, 1])


async def test_has_subscribers_counts_plain_subscribers_only() -> None:
    """A plain subscriber makes it true; a queue group member alone does not."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [])
        rt.topics.subscribe(ref, "jobs.*", queue="w")
        assert not rt.topics.has_subscribers("jobs.new")
        rt.topics.subscribe(ref, "jobs.>")
        assert rt.topics.has_subscribers("jobs.new")
        assert not rt.topics.has_subscribers("other")
