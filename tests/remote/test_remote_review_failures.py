"""Failures across nodes a review found: bad bytes from the wire, replies too big, watch races."""

from __future__ import annotations

import math

import attrs
import pytest
import trio
import trio.testing
from remote_support import Account, Balance, Seen, nodes, wait_for

import trouper
import trouper.nats
from trouper import Actor, Terminated, handler
from trouper.codec import Codec
from trouper.errors import NodeUnreachable, RemoteError, UndecodableMessage
from trouper.nats import MaxPayloadExceeded
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import (
    FAILED,
    NO_INCARNATION,
    WireError,
    error_from_wire,
    error_to_wire,
    frame,
    pack,
    unpack,
)
from trouper.runtime import DeadLetter
from trouper.runtime.lowlevel import cell_of
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

BLOB = Codec().encode_blob(Balance())

# An error as another node might write it, whose "$address" is no pair of strings.
BAD_ERROR = {"kind": "builtin", "type": "KeyError", "args": {"$tuple": [{"$address": 5}]}}


@trouper.message("remote_review.big")
@attrs.frozen
class Big(trouper.Request[str]):
    size: int


class Echo(Actor):
    """Answers ``Big(n)`` with a string of ``n`` characters."""

    @handler
    async def big(self, message: Big) -> str:
        return "x" * message.size


class Flicker(Actor):
    """Watches a ref and unwatches it again in one handler (``("flicker", ref)``)."""

    @handler
    async def barrier(self, message: Balance) -> int:
        return 0

    async def receive(self, message: object) -> None:
        assert isinstance(message, tuple)
        self.ctx.watch(message[1])
        self.ctx.unwatch(message[1])


def test_an_address_in_an_error_that_is_no_pair_of_strings_is_a_wire_error() -> None:
    """Malformed bytes are a WireError (which callers catch), never a TypeError."""
    with pytest.raises(WireError):
        error_from_wire(BAD_ERROR, "elsewhere")
    with pytest.raises(WireError):
        error_from_wire({**BAD_ERROR, "args": {"$tuple": [{"$address": ["a", "b", "c"]}]}}, "n")


def test_arguments_nested_too_deep_are_a_wire_error_not_a_recursion_error() -> None:
    """Nesting that would exhaust the stack is refused both ways (a RemoteError is sent instead)."""
    deep: list[object] = []
    for _ in range(2000):
        deep = [deep]
    with pytest.raises(WireError):
        error_from_wire({"kind": "builtin", "type": "KeyError", "args": {"$tuple": deep}}, "n")
    shallower: list[object] = []
    for _ in range(100):
        shallower = [shallower]
    assert error_to_wire(KeyError(shallower), "n")["kind"] == "remote"


async def test_a_malformed_terminated_does_not_cut_the_node_off(transport: Nats) -> None:
    """A control message whose error cannot be read is ignored; the node stays connected."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 7, name="acct-1")
        with trio.fail_after(5):
            async with trouper.nats.connect(transport.servers[0]) as client:
                data = pack(["terminated", "web", "/someone", BAD_ERROR])
                await client.publish(f"{transport.prefix}.node.bank", data)
                await client.flush()
            # Reaches bank after the control message (one server, one connection each).
            assert await web.remote("bank", "acct-1").ask(Balance()) == 7
        assert cluster_of(bank).connected


async def test_a_reply_too_big_to_cross_fails_the_ask_instead_of_never_coming(
    transport: Nats,
) -> None:
    """An answer over the server's max_payload comes back as an error saying so."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Echo, name="echo")
        echo = web.remote("bank", "echo")
        with trio.fail_after(5):
            assert await echo.ask(Big(10)) == "x" * 10
            with pytest.raises(RemoteError, match="max_payload") as caught:
                await echo.ask(Big(2 * 1024 * 1024))
            assert caught.value.type_name.endswith("MaxPayloadExceeded")
            assert await echo.ask(Big(3)) == "xxx"


async def test_a_watch_withdrawn_before_it_was_sent_leaves_no_watch_behind(
    transport: Nats,
) -> None:
    """Watch then unwatch at once: the other node must not keep watching for this one."""
    async with nodes(transport, "bank", "web") as (bank, web):
        acct = await bank.spawn(Account, 0, name="acct-1")
        remote = web.remote("bank", "acct-1")
        flicker = await web.spawn(Flicker)
        with trio.fail_after(5):
            await flicker.tell(("flicker", remote))
            await flicker.ask(Balance())
            # Whatever the node sends for that watch is on the connection now...
            await trio.testing.wait_all_tasks_blocked()
            await cluster_of(web).flush()
            # ...and so reaches bank before this ask does.
            await remote.ask(Balance())
        assert not cell_of(acct).bonds.watchers


@pytest.mark.parametrize(
    "data",
    [
        b"hello",  # no frame at all (a plain NATS request to an actor's subject)
        frame(b"S" * 8, NO_INCARNATION, [(1, BLOB)])[:-3] + b"TOKEN123",  # cut inside an entry
    ],
    ids=["not-a-frame", "cut-short"],
)
async def test_an_ask_that_is_no_frame_is_answered_and_dead_lettered(
    transport: Nats, data: bytes
) -> None:
    """Bytes that are no trouper frame: the asker hears so, the node keeps a dead letter."""
    letters: list[DeadLetter] = []
    async with nodes(transport, "bank") as (bank,):
        bank.dead_letters.listen(letters.append)
        await bank.spawn(Account, 0, name="acct-1")
        with trio.fail_after(5):
            async with trouper.nats.connect(transport.servers[0]) as client:
                reply = await client.request(f"{transport.prefix}.actor.bank.acct-1", data)
        assert reply.data[:1] == FAILED
        assert isinstance(error_from_wire(unpack(reply.data[9:]), "bank"), UndecodableMessage)
        assert cluster_of(bank).statistics().undecodable == 1
    [letter] = letters
    assert letter.recipient == trouper.Address("bank", "/acct-1")
    assert letter.message == data
    assert "frame" in letter.reason


@pytest.mark.parametrize("interval", [math.nan, math.inf])
async def test_a_heartbeat_whose_interval_is_not_finite_is_ignored(
    transport: Nats, interval: float
) -> None:
    """A node announcing NaN or infinite seconds would never be found gone: it is not heard."""
    async with nodes(transport, "a") as (a,):
        with trio.fail_after(5):
            async with trouper.nats.connect(transport.servers[0]) as client:
                beat = pack(["up", "ab" * 8, interval])
                await client.publish(f"{transport.prefix}.heartbeat.ghost", beat)
                # Answered by a after it has read the heartbeat (one connection each).
                await client.request(f"{transport.prefix}.node.a", pack(["whois"]))
        assert cluster_of(a).nodes() == ("a",)


@trouper.message("remote_review.blob")
@attrs.frozen
class Blob:
    text: str


async def test_a_publish_too_big_to_cross_raises_as_a_tell_does(transport: Nats) -> None:
    """Over the server's max_payload, a shared publish is refused, not silently counted unsent."""
    seen: list[object] = []
    async with nodes(transport, "a", "b") as (a, b):
        b.topics.subscribe(await b.spawn(Seen, seen), "big.>")
        a.topics.subscribe(await a.spawn(Seen, seen), "big.>")
        with trio.fail_after(5):
            await cluster_of(b).flush()
            with pytest.raises(MaxPayloadExceeded):
                await a.topics.publish("big.one", Blob("x" * 2 * 1024 * 1024))
            assert await a.topics.publish("big.two", Blob("small")) == 1
            await wait_for(lambda: len(seen) == 2)
        assert cluster_of(a).statistics().unsent == 0
        assert seen == [Blob("small"), Blob("small")]


async def test_a_watch_made_once_the_connection_is_closed_for_good_is_told_at_once(
    own_server: NatsServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The watch request cannot go: the watcher hears Terminated, not nothing, ever."""
    transport = Nats(
        own_server.url, prefix=prefix, heartbeat=0.25, reconnect_wait=0.05, max_reconnect_attempts=1
    )
    seen: list[Terminated] = []
    async with nodes(transport, "a") as (a,):
        journal = await a.spawn(Journal, seen)
        with trio.fail_after(10):
            await own_server.astop()
            await wait_for(lambda: "cut off from the cluster for good" in caplog.text)
            await journal.tell(a.remote("elsewhere", "acct"))
            await wait_for(lambda: len(seen) == 1)
    assert isinstance(seen[0].reason, NodeUnreachable)


class Journal(Actor):
    """Watches the refs it is told of and records each ``Terminated``."""

    def __init__(self, seen: list[Terminated]) -> None:
        self.seen = seen

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message)

    async def receive(self, message: object) -> None:
        assert isinstance(message, trouper.ActorRef)
        self.ctx.watch(message)
