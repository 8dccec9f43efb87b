"""Nodes joining, leaving, partitioned and healed; order and backpressure of what a node sends."""

from __future__ import annotations

import time

import pytest
import trio
from remote_support import Account, Balance, Deposit, Note, Notes, nodes, wait_for

import trouper
from trouper import Terminated
from trouper.errors import MailboxFull, NodeUnreachable
from trouper.remote import Nats, cluster_of
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Journal(trouper.Actor):
    """Watches the refs it is told of and records each ``Terminated``."""

    def __init__(self, seen: list[Terminated]) -> None:
        self.seen = seen

    @trouper.handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message)

    async def receive(self, message: object) -> None:
        assert isinstance(message, trouper.ActorRef)
        self.ctx.watch(message)


async def test_a_node_that_leaves_is_gone_at_once_for_the_others(transport: Nats) -> None:
    """Its goodbye removes it from ``nodes()``; asks to it then fail, tells become dead letters."""
    letters: list[DeadLetter] = []
    async with nodes(transport, "a") as (a,):
        a.dead_letters.listen(letters.append)
        async with nodes(transport, "b"):
            with trio.fail_after(5):
                await wait_for(lambda: "b" in cluster_of(a).nodes())
        with trio.fail_after(5):
            await wait_for(lambda: "b" not in cluster_of(a).nodes())
        ref = a.remote("b", "acct")
        with pytest.raises(NodeUnreachable, match=r"node 'b' left the cluster$"):
            await ref.ask(Balance())
        await ref.tell(Deposit(1))
    assert [(letter.reason, str(letter.error)) for letter in letters] == [
        ("node unreachable", "actor trouper://b/acct is unreachable: node 'b' left the cluster")
    ]


async def test_tells_then_an_ask_arrive_in_order(transport: Nats) -> None:
    """An ask sent after tells to the same actor is answered after all of them."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct")
        acct = web.remote("bank", "acct")
        for _ in range(500):
            acct.tell_nowait(Deposit(1))
        with trio.fail_after(5):
            assert await acct.ask(Balance()) == 500


async def test_a_tell_with_a_msg_id_keeps_its_place(transport: Nats) -> None:
    """A tell that travels alone (with its msg_id) stays in order with the others."""
    seen: list[object] = []
    async with nodes(transport, "a", "b") as (a, b):
        await b.spawn(Notes, seen, name="notes")
        notes = a.remote("b", "notes")
        for n in range(6):
            await notes.tell(Note(str(n)), msg_id=f"id-{n}" if n == 3 else None)
        with trio.fail_after(5):
            await wait_for(lambda: len(seen) == 6)
    assert seen == [str(n) for n in range(6)]


async def test_tell_nowait_raises_mailbox_full_while_too_much_waits_to_be_sent(
    transport: Nats,
) -> None:
    """Over 4 MiB queued and not yet written: MailboxFull; once it is written, room again."""
    async with nodes(transport, "a") as (a,):
        far = a.remote("elsewhere", "sink")
        big = Note("x" * 60_000)
        sent = 0
        with pytest.raises(MailboxFull):  # noqa: PT012 - the loop ends when it raises
            for _ in range(200):
                far.tell_nowait(big)
                sent += 1
        assert 60 <= sent <= 80  # 4 MiB of 60 KB messages
        with trio.fail_after(5):
            await far.tell(big)  # waits for room, then goes
        far.tell_nowait(big)


async def test_a_partition_terminates_both_sides_and_healing_brings_the_nodes_back(
    own_server: NatsServer, prefix: str
) -> None:
    """Cut off longer than two heartbeats, each side reports the other's actors terminated."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=0.25, reconnect_wait=0.05)
    seen_a: list[Terminated] = []
    seen_b: list[Terminated] = []
    async with nodes(transport, "a", "b") as (a, b):
        await a.spawn(Account, 1, name="acct")
        await b.spawn(Account, 2, name="acct")
        await (await a.spawn(Journal, seen_a)).tell(a.remote("b", "acct"))
        await (await b.spawn(Journal, seen_b)).tell(b.remote("a", "acct"))
        with trio.fail_after(10):
            await cluster_of(a).flush()
            await cluster_of(b).flush()
            await a.remote("b", "acct").ask(Balance())  # both watches are in place
            await b.remote("a", "acct").ask(Balance())
            await own_server.astop()
            await wait_for(lambda: len(seen_a) == len(seen_b) == 1)
            assert cluster_of(a).nodes() == ("a",)
            with pytest.raises(NodeUnreachable):
                await a.remote("b", "acct").ask(Balance())
            await own_server.astart()
            await wait_for(lambda: cluster_of(a).nodes() == cluster_of(b).nodes() == ("a", "b"))
            assert await a.remote("b", "acct").ask(Balance()) == 2
    assert [str(t.reason) for t in seen_a] == [
        "actor trouper://b/acct is unreachable: node 'b' sent no heartbeat for 0.5 s"
    ]
    assert [str(t.reason) for t in seen_b] == [
        "actor trouper://a/acct is unreachable: node 'a' sent no heartbeat for 0.5 s"
    ]


async def test_a_stall_of_this_process_does_not_make_the_others_look_gone(
    transport: Nats,
) -> None:
    """Blocked longer than two heartbeats, a node first reads what came, then judges."""
    async with nodes(transport, "a", "b") as (a, b):
        time.sleep(3 * transport.heartbeat)  # noqa: ASYNC251 - the stall under test
        with trio.fail_after(5):
            deadline = trio.current_time() + 2 * transport.heartbeat
            while trio.current_time() < deadline:
                assert cluster_of(a).nodes() == cluster_of(b).nodes() == ("a", "b")
                await trio.sleep(0.01)
