"""What a second review found lost across nodes: replies, watch notices, cut topic frames."""

from __future__ import annotations

import pytest
import trio
from remote_support import Account, Balance, Note, Seen, nodes, wait_for

import trouper
import trouper.nats
from relay_support import Relay
from trouper import Actor, Terminated, handler
from trouper.codec import Codec
from trouper.errors import NodeUnreachable, UndecodableMessage
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import ENTRY, NO_INCARNATION, OK, frame, pack, unpack
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

NOTE = Codec().encode_blob(Note("ok"))


class Journal(Actor):
    """Watches the refs it is told of and records each ``Terminated``; answers ``Balance``."""

    def __init__(self, seen: list[Terminated]) -> None:
        self.seen = seen

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message)

    @handler
    async def barrier(self, message: Balance) -> int:
        return 0

    async def receive(self, message: object) -> None:
        assert isinstance(message, trouper.ActorRef)
        self.ctx.watch(message)


async def test_no_responders_fails_only_the_ask_that_had_none(transport: Nats) -> None:
    """The server's 503 for one ask fails that ask; another ask to the node gets its reply."""
    async with nodes(transport, "web") as (web,), trio.open_nursery() as nursery:
        replies: list[object] = []
        async with trouper.nats.connect(transport.servers[0]) as bank:
            # A node "bank" that receives for one actor only: asks to any other have no responders.
            sub = await bank.subscribe(f"{transport.prefix}.actor.bank.acct")
            await bank.flush()

            async def ask_acct() -> None:
                replies.append(await web.remote("bank", "acct").ask(Balance()))

            nursery.start_soon(ask_acct)
            with trio.fail_after(5):
                request = await sub.next_msg()
                with pytest.raises(
                    NodeUnreachable,
                    match=r"^actor trouper://bank/other is unreachable: "
                    r"no node 'bank' is in the cluster$",
                ):
                    await web.remote("bank", "other").ask(Balance())
                await request.respond(OK + request.data[-8:] + Codec().encode_blob(7))
                await wait_for(lambda: replies == [7])


async def test_no_responders_from_a_node_heard_lately_says_it_is_not_connected(
    transport: Nats,
) -> None:
    """A node whose heartbeats came but that receives nothing now is not called absent."""
    async with (
        nodes(transport, "web") as (web,),
        trouper.nats.connect(transport.servers[0]) as bank,
    ):
        # A node "bank" that beats but has no subscription: as one reconnecting would be.
        await bank.publish(f"{transport.prefix}.heartbeat.bank", pack(["up", "ab" * 8, 5.0]))
        with trio.fail_after(5):
            await wait_for(lambda: cluster_of(web).nodes() == ("bank", "web"))
            with pytest.raises(
                NodeUnreachable,
                match=r"^actor trouper://bank/acct is unreachable: "
                r"node 'bank' is not connected to the cluster now$",
            ):
                await web.remote("bank", "acct").ask(Balance())


async def test_a_watch_the_other_node_is_slow_to_answer_is_withdrawn_there(
    transport: Nats,
) -> None:
    """A watch request answered after its deadline: the watcher hears, the other node unwatches."""
    seen: list[Terminated] = []
    async with nodes(transport, "web") as (web,):
        async with trouper.nats.connect(transport.servers[0]) as bank:
            # A node "bank" too slow to answer (stalled, say): it answers after the deadline.
            control = await bank.subscribe(f"{transport.prefix}.node.bank")
            await bank.flush()
            journal = await web.spawn(Journal, seen)
            await journal.tell(web.remote("bank", "acct"))
            with trio.fail_after(10):
                request = await control.next_msg()
                assert unpack(request.data) == ["watch", "web", "/acct"]
                await wait_for(lambda: len(seen) == 1)
                await request.respond(pack(["ok"]))  # bank now watches acct for web
                withdrawn = await control.next_msg()
        assert unpack(withdrawn.data) == ["unwatch", "web", "/acct"]
    assert str(seen[0].reason) == (
        "actor trouper://bank/acct is unreachable: node 'bank' did not answer a watch"
    )


async def test_an_actor_that_stopped_during_an_outage_is_reported_after_it(
    own_server: NatsServer, prefix: str
) -> None:
    """The server restarts, shorter than two heartbeats: a stop meanwhile still reaches watchers."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=5.0, reconnect_wait=0.05)
    seen: list[Terminated] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        acct = await bank.spawn(Account, 0, name="acct")
        journal = await web.spawn(Journal, seen)
        with trio.fail_after(10):
            await journal.tell(web.remote("bank", "acct"))
            await journal.ask(Balance())
            await wait_for(lambda: watched(bank, "acct"))
            await own_server.astop()
            await wait_for(lambda: not cluster_of(bank).connected)
            await wait_for(lambda: not cluster_of(web).connected)
            await bank.stop(acct)
            await own_server.astart()
            await wait_for(lambda: len(seen) == 1)
        assert cluster_of(web).nodes() == ("bank", "web")
    assert seen[0].reason is None


async def test_an_actor_that_stopped_while_its_node_was_cut_off_is_reported_after_it(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Only the watched node's connection drops, so long that it drops the watch: re-checked."""
    seen: list[Terminated] = []
    async with trio.open_nursery() as nursery:
        relay = Relay(cluster_server.url)
        port = await nursery.start(relay.serve)
        # bank hears web's silence after 0.5 s; web would hear bank's only after 10 s.
        near = Nats(cluster_server.url, prefix=prefix, heartbeat=0.25)
        far = Nats(f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=5.0, reconnect_wait=0.05)
        async with (
            trouper.open_runtime(node="bank", transport=far) as bank,
            trouper.open_runtime(node="web", transport=near) as web,
        ):
            acct = await bank.spawn(Account, 0, name="acct")
            journal = await web.spawn(Journal, seen)
            with trio.fail_after(10):
                await wait_for(lambda: cluster_of(bank).nodes() == ("bank", "web"))
                await wait_for(lambda: cluster_of(web).nodes() == ("bank", "web"))
                await journal.tell(web.remote("bank", "acct"))
                await wait_for(lambda: watched(bank, "acct"))
                relay.cut()
                await wait_for(lambda: cluster_of(bank).nodes() == ("bank",))
                await bank.stop(acct)  # no one here watches it for web any more
                relay.heal()
                await wait_for(lambda: cluster_of(bank).nodes() == ("bank", "web"))
                await wait_for(lambda: len(seen) == 1)
            assert cluster_of(web).nodes() == ("bank", "web")  # web never found bank gone
        nursery.cancel_scope.cancel()
    assert seen[0].reason is None


async def test_a_notice_lost_with_the_watched_nodes_connection_is_made_good(
    cluster_server: NatsServer, prefix: str
) -> None:
    """The terminated notice dies with bank's connection: after bank reconnects, web re-checks."""
    seen: list[Terminated] = []
    async with trio.open_nursery() as nursery:
        relay = Relay(cluster_server.url)
        port = await nursery.start(relay.serve)
        near = Nats(cluster_server.url, prefix=prefix, heartbeat=1.0)
        far = Nats(f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=5.0, reconnect_wait=0.05)
        async with (
            trouper.open_runtime(node="bank", transport=far) as bank,
            trouper.open_runtime(node="web", transport=near) as web,
        ):
            acct = await bank.spawn(Account, 0, name="acct")
            journal = await web.spawn(Journal, seen)
            with trio.fail_after(10):
                await wait_for(lambda: cluster_of(bank).nodes() == ("bank", "web"))
                await wait_for(lambda: cluster_of(web).nodes() == ("bank", "web"))
                await journal.tell(web.remote("bank", "acct"))
                await wait_for(lambda: watched(bank, "acct"))
                relay.swallow()  # what bank writes now is lost, and bank cannot tell yet
                await bank.stop(acct)
                await wait_for(relay.swallowed.is_set)  # the notice
                relay.cut()
                relay.heal()
                await wait_for(lambda: cluster_of(bank).statistics().reconnects == 1)
                await wait_for(lambda: len(seen) == 1)
            assert cluster_of(web).nodes() == cluster_of(bank).nodes() == ("bank", "web")
        nursery.cancel_scope.cancel()
    assert seen[0].reason is None


def watched(runtime: trouper.Runtime, name: str) -> bool:
    """Whether another node watches the local actor ``name`` (its cell has a watcher)."""
    from trouper.runtime.lowlevel import cell_of

    ref = runtime.lookup(name)
    return ref is not None and bool(cell_of(ref).bonds.watchers)


def topic_frame(seq: int, blob: bytes) -> bytes:
    """A topic frame as another node (incarnation ``S``*8) writes it."""
    return frame(b"S" * 8, NO_INCARNATION, [(seq, blob)])


@pytest.mark.parametrize(
    "data",
    [
        b"hi",  # no frame head at all
        b"S" * 8 + NO_INCARNATION + b"\x00\x00\x00",  # cut inside the entry's head
        topic_frame(1, NOTE)[:-3],  # cut inside the message
        b"S" * 8 + NO_INCARNATION + ENTRY.pack(1, 1 << 30) + NOTE,  # a length past the end
    ],
    ids=["no-head", "cut-entry-head", "cut-message", "length-past-end"],
)
async def test_a_topic_frame_cut_short_is_a_dead_letter(transport: Nats, data: bytes) -> None:
    """Bytes on a topic that are no whole frame are reported as a dead letter, not only logged."""
    letters: list[DeadLetter] = []
    seen: list[object] = []
    async with nodes(transport, "a") as (a,):
        a.dead_letters.listen(letters.append)
        a.topics.subscribe(await a.spawn(Seen, seen), "news.>")
        with trio.fail_after(5):
            async with trouper.nats.connect(transport.servers[0]) as client:
                await client.publish(f"{transport.prefix}.topic.news.one", data)
                await client.publish(f"{transport.prefix}.topic.news.two", topic_frame(2, NOTE))
                await client.flush()
            await wait_for(lambda: len(seen) == 1)  # the whole frame after it arrived
        assert cluster_of(a).statistics().undecodable == 1
    assert seen == [Note("ok")]
    [letter] = letters
    assert letter.message == data
    assert letter.recipient == trouper.Address("a", "/")
    assert isinstance(letter.error, UndecodableMessage)
    assert "frame" in letter.reason
