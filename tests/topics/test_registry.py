"""The topic registry: subscribe, publish, unsubscribe, actor lifetimes and slow subscribers."""

from __future__ import annotations

import re

import attrs
import pytest
import trio
import trio.testing
from topic_actors import Collector, Gated

import trouper
from trouper import ActorRef, Address
from trouper.runtime import DeadLetter
from trouper.topics import Overflow, Published, Subscription, TopicRegistry


@attrs.define
class Recorder:
    """An endpoint that records what it is sent in one shared journal (order observable)."""

    name: str
    journal: list[tuple[str, object]]

    async def send(self, message: object, msg_id: str | None = None) -> bool:
        self.journal.append((self.name, message))
        await trio.lowlevel.checkpoint()
        return True

    def send_nowait(self, message: object, msg_id: str | None = None) -> bool:
        self.journal.append((self.name, message))
        return True

    async def ask(self, message: object) -> object:
        raise NotImplementedError

    def watch(self, watcher: object) -> None:
        raise NotImplementedError

    def unwatch(self, watcher: object) -> None:
        raise NotImplementedError


def recorder(name: str, journal: list[tuple[str, object]]) -> ActorRef[object]:
    """A ref to no local actor, whose deliveries land in ``journal``."""
    return ActorRef(Address("elsewhere", f"/{name}"), Recorder(name, journal))


async def test_publish_reaches_matching_patterns_and_counts_them() -> None:
    """Each matching subscriber gets the bare message; the count says how many."""
    acme: list[object] = []
    nyse: list[object] = []
    other: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, acme), "prices.*.ACME")
        rt.topics.subscribe(await rt.spawn(Collector, nyse), "prices.nyse.>")
        rt.topics.subscribe(await rt.spawn(Collector, other), "orders.>")
        assert await rt.topics.publish("prices.nyse.ACME", 101) == 2
        assert await rt.topics.publish("prices.lse.ACME", 102) == 1
        assert await rt.topics.publish("prices.nyse.GLOBX.pref", 103) == 1
        assert await rt.topics.publish("prices.nyse", 104) == 0
        await trio.testing.wait_all_tasks_blocked()
    assert (acme, nyse, other) == ([101, 102], [101, 103], [])


async def test_registry_is_one_per_runtime() -> None:
    """``rt.topics`` makes the registry on first use and returns the same one after."""
    async with trouper.open_runtime() as rt:
        assert isinstance(rt.topics, TopicRegistry)
        assert rt.topics is rt.topics


async def test_with_subject_delivers_a_published_wrapper() -> None:
    """``with_subject=True`` delivers ``Published(subject, message)``."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, seen), "prices.>", with_subject=True)
        await rt.topics.publish("prices.nyse.ACME", 101)
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [Published("prices.nyse.ACME", 101)]


async def test_subscribers_are_served_in_subscribe_order() -> None:
    """Deliveries follow the order of subscription, whatever the patterns."""
    journal: list[tuple[str, object]] = []
    async with trouper.open_runtime() as rt:
        for name, pattern in [("c", "a.>"), ("a", "a.b.c"), ("b", "*.b.*"), ("d", ">")]:
            rt.topics.subscribe(recorder(name, journal), pattern)
        rt.topics.subscribe(recorder("e", journal), "a.*.c", overflow=Overflow.DROP)
        assert await rt.topics.publish("a.b.c", 1) == 5
    assert journal == [("c", 1), ("a", 1), ("b", 1), ("d", 1), ("e", 1)]


async def test_a_subscriber_matched_twice_gets_each_message_once() -> None:
    """Overlapping subscriptions of one ref deliver once, as the earliest of them says."""
    journal: list[tuple[str, object]] = []
    async with trouper.open_runtime() as rt:
        ref = recorder("r", journal)
        rt.topics.subscribe(ref, "a.*", with_subject=True)
        rt.topics.subscribe(ref, "a.>")
        rt.topics.subscribe(ref, "a.*")
        assert await rt.topics.publish("a.b", 1) == 1
        assert await rt.topics.publish("a.b.c", 2) == 1
    assert journal == [("r", Published("a.b", 1)), ("r", 2)]


async def test_subscription_describes_itself() -> None:
    """A subscription shows its pattern, ref, policy and state."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [], name="c")
        subscription = rt.topics.subscribe(ref, "a.*", with_subject=True)
        assert isinstance(subscription, Subscription)
        assert (subscription.pattern, subscription.ref, subscription.overflow) == (
            "a.*",
            ref,
            Overflow.BACKPRESSURE,
        )
        assert subscription.with_subject
        assert subscription.active
        assert subscription.dropped == 0
        subscription.cancel()
        assert repr(subscription) == (
            "<Subscription 'a.*' -> trouper://local/c backpressure with_subject cancelled>"
        )


async def test_unsubscribe_ends_delivery_and_is_idempotent() -> None:
    """After ``unsubscribe`` (twice is fine) the subscriber gets nothing more."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, seen)
        subscription = rt.topics.subscribe(ref, "a.>")
        assert await rt.topics.publish("a.b", 1) == 1
        rt.topics.unsubscribe(subscription)
        rt.topics.unsubscribe(subscription)
        subscription.cancel()
        assert not subscription.active
        assert len(rt.topics) == 0
        assert await rt.topics.publish("a.b", 2) == 0
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [1]


async def test_unsubscribe_refuses_a_subscription_of_another_runtime() -> None:
    """A subscription is ended only by the registry that made it."""
    async with trouper.open_runtime() as rt, trouper.open_runtime() as other:
        subscription = rt.topics.subscribe(recorder("r", []), "a")
        with pytest.raises(
            ValueError, match=r"^<Subscription 'a' .*> belongs to another registry$"
        ):
            other.topics.unsubscribe(subscription)
        assert subscription.active


async def test_an_actor_of_another_runtime_cannot_subscribe() -> None:
    """Subscribing a local actor of a different runtime is a ValueError."""
    async with trouper.open_runtime() as rt, trouper.open_runtime() as other:
        ref = await other.spawn(Collector, [], name="x")
        with pytest.raises(
            ValueError, match=r"^<ActorRef trouper://local/x> is an actor of another runtime$"
        ):
            rt.topics.subscribe(ref, "a")


async def test_a_subscription_cancelled_during_a_publish_is_skipped() -> None:
    """A publish waiting on one subscriber does not deliver to one cancelled meanwhile."""
    gate = trio.Event()
    first: list[object] = []
    second: list[object] = []
    async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
        rt.topics.subscribe(await rt.spawn(Gated, gate, first, mailbox_size=1), "a")
        later = rt.topics.subscribe(await rt.spawn(Collector, second), "a")
        await rt.topics.publish("a", 1)
        await trio.testing.wait_all_tasks_blocked()
        await rt.topics.publish("a", 2)
        nursery.start_soon(rt.topics.publish, "a", 3)
        await trio.testing.wait_all_tasks_blocked()
        later.cancel()
        gate.set()
    assert first == [1, 2, 3]
    assert second == [1, 2]


async def test_a_cancelled_publish_reaches_only_the_subscribers_before_the_wait() -> None:
    """Cancelled while waiting on a full mailbox, publish delivered to earlier subscribers only."""
    gate = trio.Event()
    before: list[object] = []
    blocked: list[object] = []
    after: list[object] = []
    async with trouper.open_runtime() as rt:
        rt.topics.subscribe(await rt.spawn(Collector, before), "a")
        rt.topics.subscribe(await rt.spawn(Gated, gate, blocked, mailbox_size=1), "a")
        rt.topics.subscribe(await rt.spawn(Collector, after), "a")
        await rt.topics.publish("a", 1)
        await trio.testing.wait_all_tasks_blocked()
        await rt.topics.publish("a", 2)
        with trio.move_on_after(1) as scope:
            await rt.topics.publish("a", 3)
        assert scope.cancelled_caught
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert (before, blocked, after) == ([1, 2, 3], [1, 2], [1, 2])


async def test_stopping_an_actor_drops_its_subscriptions() -> None:
    """An actor that stops for good is unsubscribed from every pattern."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [])
        stays = rt.topics.subscribe(recorder("r", []), "a.*")
        subscriptions = [rt.topics.subscribe(ref, p) for p in ("a.*", "a.>", "b")]
        await rt.stop(ref)
        assert [s.active for s in subscriptions] == [False, False, False]
        assert rt.topics.subscriptions_of(ref) == ()
        assert rt.topics.subscriptions_of(stays.ref) == (stays,)
        assert len(rt.topics) == 1
        assert await rt.topics.publish("a.b", 1) == 1
        assert rt.dead_letters.count == 0


async def test_cleanup_on_stop_survives_the_registry_emptying_in_between() -> None:
    """After all subscriptions ended once, a new subscriber is still dropped when it stops."""
    async with trouper.open_runtime() as rt:
        first = await rt.spawn(Collector, [])
        rt.topics.subscribe(first, "a").cancel()
        second = await rt.spawn(Collector, [])
        subscription = rt.topics.subscribe(second, "a")
        await rt.stop(second)
        assert not subscription.active
        assert len(rt.topics) == 0


async def test_a_restart_keeps_subscriptions() -> None:
    """An actor restarted by its supervisor still receives what it subscribed to."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, seen)
        subscription = rt.topics.subscribe(ref, "a")
        await rt.topics.publish("a", "boom")
        await trio.testing.wait_all_tasks_blocked()
        assert rt.tree().actors[0].restart_count == 1
        assert subscription.active
        assert await rt.topics.publish("a", "after") == 1
        await trio.testing.wait_all_tasks_blocked()
    assert seen == ["after"]


async def test_subscribing_a_stopped_actor_raises_actor_stopped() -> None:
    """A ref whose actor has stopped for good cannot subscribe (nothing is kept)."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Collector, [], name="gone")
        await rt.stop(ref)
        with pytest.raises(trouper.ActorStopped, match=r"^actor trouper://local/gone has stopped$"):
            rt.topics.subscribe(ref, "a")
        assert len(rt.topics) == 0


async def test_backpressure_makes_the_publisher_wait_and_loses_nothing() -> None:
    """A full backpressure subscriber holds the publisher until it drains; all arrive."""
    gate = trio.Event()
    seen: list[object] = []
    published: list[int] = []

    async def publisher(registry: TopicRegistry) -> None:
        for n in range(5):
            published.append(await registry.publish("ticks", n))

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Gated, gate, seen, mailbox_size=1)
        rt.topics.subscribe(ref, "ticks")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(publisher, rt.topics)
            await trio.testing.wait_all_tasks_blocked()
            # One message in the handler, one in the mailbox, the publisher on the third.
            assert published == [1, 1]
            assert seen == []
            gate.set()
        assert published == [1, 1, 1, 1, 1]
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [0, 1, 2, 3, 4]
    assert rt.topics.dropped == 0
    assert rt.dead_letters.count == 0


async def test_drop_turns_overflow_into_counted_slow_subscriber_dead_letters() -> None:
    """A full drop subscriber loses the message: a dead letter, counted, the publisher free."""
    gate = trio.Event()
    seen: list[object] = []
    fast: list[object] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Gated, gate, seen, mailbox_size=1, name="slow")
        slow = rt.topics.subscribe(ref, "ticks", with_subject=True, overflow=Overflow.DROP)
        rt.topics.subscribe(await rt.spawn(Collector, fast), "ticks", overflow=Overflow.DROP)
        assert await rt.topics.publish("ticks", 0) == 2
        await trio.testing.wait_all_tasks_blocked()
        assert [await rt.topics.publish("ticks", n) for n in (1, 2, 3)] == [2, 1, 1]
        assert (slow.dropped, rt.topics.dropped, rt.dead_letters.count) == (2, 2, 2)
        assert rt.dead_letters.recent == (
            DeadLetter(Published("ticks", 2), ref.address, "slow subscriber"),
            DeadLetter(Published("ticks", 3), ref.address, "slow subscriber"),
        )
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert seen == [Published("ticks", 0), Published("ticks", 1)]
    assert fast == [0, 1, 2, 3]


async def test_ten_thousand_subscriptions_match_exactly() -> None:
    """With 10,000 subscriptions a publish reaches exactly the matching subscribers."""
    journal: list[tuple[str, object]] = []
    async with trouper.open_runtime() as rt:
        refs = [recorder(f"r{i}", journal) for i in range(100)]
        subscriptions = [
            rt.topics.subscribe(ref, f"grid.{i}.{k}")
            for i, ref in enumerate(refs)
            for k in range(100)
        ]
        subscriptions.append(rt.topics.subscribe(refs[42], "grid.*.7"))
        assert len(rt.topics) == 10_001
        assert await rt.topics.publish("grid.13.7", "x") == 2
        assert await rt.topics.publish("grid.42.7", "y") == 1
        assert await rt.topics.publish("grid.13.100", "z") == 0
        assert journal == [("r13", "x"), ("r42", "x"), ("r42", "y")]
        for subscription in subscriptions:
            subscription.cancel()
        assert len(rt.topics) == 0
        assert await rt.topics.publish("grid.13.7", "gone") == 0


async def test_thousands_of_subscriber_actors_match_exactly() -> None:
    """Among 2,000 subscribed actors a publish reaches exactly the matching ones, once."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        for i in range(2000):
            rt.topics.subscribe(await rt.spawn(Collector, seen), f"load.{i}.>")
        rt.topics.subscribe(await rt.spawn(Collector, seen), "load.*.tick")
        assert await rt.topics.publish("load.1999.tick", 1) == 2
        assert await rt.topics.publish("load.0.tock", 2) == 1
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(seen, key=repr) == [1, 1, 2]


async def test_publishing_in_the_system_namespace_is_refused() -> None:
    """User messages may not be published on ``trouper.system`` subjects."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            trouper.InvalidSubject,
            match=(
                r"^invalid subject 'trouper\.system\.actor\.failed': "
                r"the 'trouper\.system' namespace is reserved for the runtime's reports$"
            ),
        ):
            await rt.topics.publish("trouper.system.actor.failed", "fake")
        with pytest.raises(trouper.InvalidSubject, match=r"^invalid subject 'trouper\.system'"):
            await rt.topics.publish("trouper.system", "fake")
        assert await rt.topics.publish("trouper.systems", "fine") == 0


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "a pattern must be a non-empty string"),
        ("a..b", "empty token at position 2"),
        ("a.>.b", "'>' must be the last token"),
        ("a.b*", "token 'b*' mixes a wildcard with other characters"),
    ],
)
async def test_bad_patterns_raise_invalid_subject(pattern: str, problem: str) -> None:
    """A pattern off the grammar is refused with the problem named."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            trouper.InvalidSubject, match=rf"^invalid subject '.*': {re.escape(problem)}$"
        ):
            rt.topics.subscribe(recorder("r", []), pattern)
        assert len(rt.topics) == 0


@pytest.mark.parametrize(
    ("subject", "problem"),
    [
        ("a.*", "wildcard '*' is not allowed in a published subject"),
        ("a. b", "token ' b' contains whitespace"),
        (["a"], "a subject must be a str, got list"),
    ],
)
async def test_bad_subjects_raise_invalid_subject(subject: str, problem: str) -> None:
    """A published subject off the grammar (or with wildcards) is refused."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(
            trouper.InvalidSubject, match=rf"^invalid subject .*: {re.escape(problem)}$"
        ):
            await rt.topics.publish(subject, 1)


async def test_bad_options_are_refused() -> None:
    """A non-ref subscriber, a non-Overflow policy, a non-Subscription to end: refused."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=r"^overflow must be an Overflow member, got 'drop'$"):
            rt.topics.subscribe(recorder("r", []), "a", overflow="drop")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^the subscriber must be an ActorRef, got 'r'$"):
            rt.topics.subscribe("r", "a")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^expected a Subscription, got 'a'$"):
            rt.topics.unsubscribe("a")  # type: ignore[arg-type]
        assert len(rt.topics) == 0


async def test_publish_does_not_count_a_subscriber_that_stopped_while_it_waited() -> None:
    """A publish waiting on a full subscriber that then stops counts only real deliveries."""
    gate = trio.Event()
    seen: list[object] = []
    other: list[object] = []
    counts: list[int] = []
    async with trouper.open_runtime() as rt:
        slow = await rt.spawn(Gated, gate, seen, mailbox_size=1)
        rt.topics.subscribe(slow, "t")
        rt.topics.subscribe(await rt.spawn(Collector, other), "t")
        await slow.tell("first")  # taken: the handler waits on the gate
        await trio.testing.wait_all_tasks_blocked()
        await slow.tell("second")  # queued: the mailbox is full now
        async with trio.open_nursery() as nursery:

            async def publish() -> None:
                counts.append(await rt.topics.publish("t", "news"))

            nursery.start_soon(publish)
            await trio.testing.wait_all_tasks_blocked()  # the publisher waits for room
            await rt.stop(slow)  # ... and the subscriber stops instead
        await trio.testing.wait_all_tasks_blocked()
    assert counts == [1]
    assert other == ["news"]
