"""Topics, queue groups and full mailboxes across nodes, in one process over a real server."""

from __future__ import annotations

from collections import Counter

import attrs
import pytest
import trio
from remote_support import Balance, Gate, Note, Notes, Seen, Slow, nodes, wait_for

import trouper
from trouper.errors import MailboxFull, UnregisteredMessageType
from trouper.remote import Nats, cluster_of
from trouper.runtime import DeadLetter

pytestmark = pytest.mark.real_clock


async def test_a_publish_reaches_the_subscribers_of_every_node_once(transport: Nats) -> None:
    """Subscribers on the publishing node and on two others each get it exactly once."""
    seen: dict[str, list[object]] = {"a": [], "b": [], "c": []}
    async with nodes(transport, "a", "b", "c") as runtimes:
        for runtime in runtimes:
            runtime.topics.subscribe(await runtime.spawn(Notes, seen[runtime.node]), "news.>")
        a = runtimes[0]
        assert await a.topics.publish("news.today", Note("hello")) == 1  # the local subscriber
        with trio.fail_after(5):
            await wait_for(lambda: all(seen.values()))
        await a.topics.publish("news.today", Note("again"))
        with trio.fail_after(5):
            await wait_for(lambda: all(len(journal) == 2 for journal in seen.values()))
    assert seen == {node: ["hello", "again"] for node in "abc"}


async def test_with_subject_reaches_remote_subscribers_too(transport: Nats) -> None:
    """A subscriber on another node that asked for the subject gets Published."""
    seen: list[object] = []
    async with nodes(transport, "a", "b") as (a, b):
        b.topics.subscribe(await b.spawn(Seen, seen), "news.*", with_subject=True)
        await a.topics.publish("news.today", Note("hi"))
        with trio.fail_after(5):
            await wait_for(lambda: len(seen) == 1)
    assert seen == [trouper.topics.Published("news.today", Note("hi"))]


async def test_a_queue_group_across_nodes_gives_each_message_to_exactly_one_member(
    transport: Nats,
) -> None:
    """Members on two nodes share 60 messages published on a third: each once, both busy."""
    seen: list[tuple[str, str]] = []

    class Member(trouper.Actor):
        @trouper.handler
        async def note(self, message: Note) -> None:
            seen.append((self.ctx.runtime.node, message.text))

    async with nodes(transport, "a", "b", "producer") as (a, b, producer):
        for runtime in (a, b):
            for _ in range(2):
                runtime.topics.subscribe(await runtime.spawn(Member), "jobs.*", queue="workers")
        with trio.fail_after(5):
            await cluster_of(a).flush()  # the groups' subscriptions are on the server
            await cluster_of(b).flush()
            for n in range(60):
                await producer.topics.publish("jobs.new", Note(str(n)))
            await wait_for(lambda: len(seen) == 60)
    assert sorted(int(text) for _, text in seen) == list(range(60))
    assert set(Counter(node for node, _ in seen)) == {"a", "b"}


async def test_subjects_outside_the_shared_patterns_stay_on_their_node(transport: Nats) -> None:
    """With ``topics=("shared.>",)`` other subjects are local: no other node hears them."""
    seen: list[object] = []
    narrow = attrs.evolve(transport, topics=("shared.>",))
    async with trouper.open_runtime(node="a", transport=narrow) as a, nodes(transport, "b") as (b,):
        b.topics.subscribe(await b.spawn(Notes, seen), ">")
        await a.topics.publish("local.x", Note("local"))
        await a.topics.publish("shared.x", Note("shared"))
        with trio.fail_after(5):
            await wait_for(lambda: seen != [])
    assert seen == ["shared"]


async def test_an_unregistered_message_on_a_shared_subject_is_refused_first(
    transport: Nats,
) -> None:
    """It could not cross: publish raises before any local subscriber has it."""

    @attrs.frozen
    class Local:
        n: int

    seen: list[object] = []
    async with nodes(transport, "a") as (a,):
        a.topics.subscribe(await a.spawn(Seen, seen), "news")
        with pytest.raises(UnregisteredMessageType):
            await a.topics.publish("news", Local(1))
    assert seen == []


async def test_messages_for_a_full_mailbox_are_held_and_arrive_in_order(transport: Nats) -> None:
    """A full mailbox never blocks the node: its messages wait, in order, until there is room."""
    gate = trio.Event()
    seen: list[int] = []
    async with nodes(transport, "a", "b") as (a, b):
        await b.spawn(Gate, gate, seen, name="gate", mailbox_size=2)
        remote = a.remote("b", "gate")
        for n in range(50):
            await remote.tell(Slow(n))
        with trio.fail_after(5):
            await wait_for(lambda: cluster_of(b).statistics().held > 0)
            gate.set()
            await wait_for(lambda: len(seen) == 50)
        assert cluster_of(b).statistics().held == 0
    assert seen == list(range(50))


async def test_an_ask_to_a_full_mailbox_waits_its_turn(transport: Nats) -> None:
    """An ask behind held tells is queued after them and answered in turn."""
    gate = trio.Event()
    seen: list[int] = []

    class Counting(Gate):
        @trouper.handler
        async def count(self, message: Balance) -> int:
            return len(self.seen)

    async with nodes(transport, "a", "b") as (a, b):
        await b.spawn(Counting, gate, seen, name="gate", mailbox_size=1)
        remote = a.remote("b", "gate")
        for n in range(10):
            await remote.tell(Slow(n))
        async with trio.open_nursery() as nursery:
            answer: list[int] = []

            async def ask() -> None:
                answer.append(await remote.ask(Balance()))

            nursery.start_soon(ask)
            with trio.fail_after(5):
                await wait_for(lambda: cluster_of(b).statistics().held >= 5)
                gate.set()
    assert answer == [10]


async def test_beyond_the_backlog_messages_become_dead_letters(transport: Nats) -> None:
    """At most ``backlog`` messages are held; later ones are dead letters ("mailbox full")."""
    gate = trio.Event()
    seen: list[int] = []
    letters: list[DeadLetter] = []
    small = attrs.evolve(transport, backlog=3)
    async with trouper.open_runtime(node="b", transport=small) as b, nodes(transport, "a") as (a,):
        b.dead_letters.listen(letters.append)
        await b.spawn(Gate, gate, seen, name="gate", mailbox_size=1)
        remote = a.remote("b", "gate")
        for n in range(20):
            await remote.tell(Slow(n))
        with pytest.raises(MailboxFull):
            await remote.ask(Balance())
        gate.set()
        with trio.fail_after(5):
            await wait_for(lambda: len(seen) + len(letters) == 20)
        overflowed = cluster_of(b).statistics().overflowed
    assert seen == sorted(seen)
    assert 3 <= len(seen) <= 5
    assert {letter.reason for letter in letters} == {"mailbox full"}
    assert overflowed == len(letters) + 1  # the ask too
