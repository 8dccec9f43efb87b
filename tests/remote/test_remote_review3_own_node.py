"""A ref to this node's own address with no actor there never goes through the server."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from remote_support import Account, Balance, Deposit, Note, ReplyTo, StopNow, nodes, wait_for
from test_remote_review_notices import Journal

import trouper
from trouper import Actor, Address, Terminated
from trouper.errors import ActorStopped
from trouper.remote import Nats, cluster_of
from trouper.runtime import DeadLetter, DeadLetterReason

pytestmark = pytest.mark.real_clock


async def test_a_tell_and_an_ask_to_no_actor_here_are_a_stopped_actors_without_the_server(
    transport: Nats,
) -> None:
    """A dead letter ("actor stopped") and ``ActorStopped``; nothing sent, no record of a node."""
    letters: list[DeadLetter] = []
    async with nodes(transport, "web") as (web,):
        web.dead_letters.listen(letters.append)
        cluster = cluster_of(web)
        ref = web.remote("web", "nobody")
        with trio.fail_after(5):
            assert await ref.tell(Note("a")) is False
            assert ref.tell_nowait(Note("b")) is False
            with pytest.raises(ActorStopped, match=r"^actor trouper://web/nobody has stopped$"):
                await ref.ask(Balance())
        stats = cluster.statistics()
        assert (stats.sent, stats.received, stats.peers) == (0, 0, 0)
    address = Address("web", "/nobody")
    assert [(letter.message, letter.recipient, letter.reason) for letter in letters] == [
        (Note("a"), address, DeadLetterReason.ACTOR_STOPPED),
        (Note("b"), address, DeadLetterReason.ACTOR_STOPPED),
        (Balance(), address, DeadLetterReason.ACTOR_STOPPED),
    ]


async def test_a_ref_to_this_node_made_before_its_actor_reaches_it_once_spawned(
    transport: Nats,
) -> None:
    """The ref finds the actor by name when it is used, as one from another node would."""
    async with nodes(transport, "web") as (web,):
        ref = web.remote("web", "later")
        await web.spawn(Account, 10, name="later")
        with trio.fail_after(5):
            assert await ref.tell(Deposit(5)) is True
            assert await ref.ask(Balance()) == 15
        assert cluster_of(web).statistics().peers == 0


async def test_a_watch_of_no_actor_here_is_terminated_at_once_without_the_server(
    transport: Nats,
) -> None:
    """``Terminated(ref, None)``, as a stopped local actor's, and no record of this node."""
    seen: list[Terminated] = []
    async with nodes(transport, "web") as (web,):
        ref = web.remote("web", "nobody")
        journal = await web.spawn(Journal, seen)
        with trio.fail_after(5):
            await journal.tell(ref)
            await wait_for(lambda: seen != [])
        assert seen == [Terminated(ref, None)]
        assert cluster_of(web).statistics().peers == 0


async def test_a_ref_to_no_actor_here_read_from_another_nodes_message_stays_here(
    transport: Nats,
) -> None:
    """A ref in a message naming this node's missing actor is a local one: no record of it."""
    letters: list[DeadLetter] = []
    async with nodes(transport, "web", "bank") as (web, bank):
        await bank.spawn(Account, 10, name="acct")
        web.dead_letters.listen(letters.append)
        nobody = web.remote("web", "nobody")
        with trio.fail_after(5):
            # bank tells it "x" (a dead letter here) and answers with it: read back here.
            back = await web.remote("bank", "acct").ask(ReplyTo(nobody, "x"))
            assert isinstance(back, trouper.ActorRef)
            assert back == nobody
            assert await back.tell(Note("c")) is False
        assert cluster_of(web).statistics().peers == 1  # bank alone
    assert [(letter.message, letter.reason) for letter in letters] == [
        (Note("x"), DeadLetterReason.ACTOR_STOPPED),
        (Note("c"), DeadLetterReason.ACTOR_STOPPED),
    ]


class Parent(Actor):
    """Starts a child registered as ``kid`` (its address is under the parent's)."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Account, 1, name="kid")


async def test_a_watch_through_a_ref_made_before_a_named_child_names_the_ref_watched(
    transport: Nats,
) -> None:
    """``Terminated`` carries the address watched (``/kid``), not the child's own longer one."""
    seen: list[Terminated] = []
    async with nodes(transport, "web") as (web,):
        ref = web.remote("web", "kid")
        await web.spawn(Parent, name="parent")
        journal = await web.spawn(Journal, seen)
        with trio.fail_after(5):
            await journal.tell(ref)
            await journal.ask(Balance())  # the watch is made
            await ref.tell(StopNow())
            await wait_for(lambda: seen != [])
        assert seen == [Terminated(ref, None)]
        assert seen[0].ref.address == Address("web", "/kid")
