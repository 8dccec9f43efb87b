"""Nodes in one process over a real server: remote tells and asks, errors, refs, names."""

from __future__ import annotations

import re

import attrs
import pytest
import trio
from remote_support import (
    Account,
    Balance,
    Deposit,
    Explode,
    Forward,
    Note,
    Notes,
    Refuse,
    ReplyTo,
    nodes,
    wait_for,
)

import trouper
from trouper import ActorStopped, HandlerError, UnhandledMessage
from trouper.errors import (
    NameTaken,
    NodeNameTaken,
    NodeUnreachable,
    RemoteError,
    UnregisteredMessageType,
)
from trouper.remote import Nats, RemoteEndpoint, cluster_of, locate
from trouper.runtime import DeadLetter

pytestmark = pytest.mark.real_clock


async def test_a_remote_tell_reaches_the_actor_and_an_ask_returns_its_reply(
    transport: Nats,
) -> None:
    """The issue's two-process example, as two nodes of one process."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 10, name="acct-1")
        acct = web.remote("bank", "acct-1")
        await acct.tell(Deposit(5))
        with trio.fail_after(5):
            assert await acct.ask(Balance()) == 15


async def test_remote_tells_keep_their_order(transport: Nats) -> None:
    """Tells and tell_nowaits from one node to one actor arrive in the order sent."""
    seen: list[object] = []
    async with nodes(transport, "a", "b") as (a, b):
        await b.spawn(Notes, seen, name="notes", mailbox_size=10_000)
        notes = a.remote("b", "notes")
        for n in range(300):
            if n % 2:
                await notes.tell(Note(str(n)))
            else:
                notes.tell_nowait(Note(str(n)))
        with trio.fail_after(10):
            await wait_for(lambda: len(seen) == 300)
    assert seen == [str(n) for n in range(300)]


async def test_a_remote_ref_is_equal_to_the_local_ref_of_its_actor(transport: Nats) -> None:
    """Refs compare by address: the remote ref to /acct-1 equals the local one."""
    async with nodes(transport, "bank", "web") as (bank, web):
        local = await bank.spawn(Account, 0, name="acct-1")
        remote = web.remote("bank", "acct-1")
        assert remote == local
        assert isinstance(remote.endpoint, RemoteEndpoint)
        assert str(remote.address) == "trouper://bank/acct-1"


async def test_a_ref_on_the_own_node_is_the_local_one(transport: Nats) -> None:
    """``rt.remote(own node, name)`` gives the local actor's own ref."""
    async with nodes(transport, "bank") as (bank,):
        local = await bank.spawn(Account, 0, name="acct-1")
        assert bank.remote("bank", "acct-1").endpoint is local.endpoint


async def test_a_ref_sent_in_a_message_works_on_the_other_node(transport: Nats) -> None:
    """A ref travels as its address; the receiver tells through it, and it comes back local."""
    seen: list[object] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1")
        inbox = await web.spawn(Notes, seen, name="inbox")
        with trio.fail_after(5):
            back = await web.remote("bank", "acct-1").ask(ReplyTo(inbox, "hello"))
            await wait_for(lambda: seen == ["hello"])
        assert isinstance(back, trouper.ActorRef)
        assert back == inbox
        assert back.endpoint is inbox.endpoint  # resolved to the local actor on its way back


async def test_an_actor_asks_an_actor_on_a_third_node(transport: Nats) -> None:
    """A handler's own remote ask works as any other (a chain across three nodes)."""
    async with nodes(transport, "a", "b", "c") as (a, b, c):
        await b.spawn(Account, 0, name="front")
        await c.spawn(Account, 42, name="vault")
        with trio.fail_after(5):
            assert await a.remote("b", "front").ask(Forward("c", "vault")) == 42


async def test_a_remote_handler_error_arrives_with_its_type_message_and_traceback(
    transport: Nats,
) -> None:
    """HandlerError names the remote actor; ``remote`` carries the error as text."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1")
        with trio.fail_after(5), pytest.raises(HandlerError) as caught:
            await web.remote("bank", "acct-1").ask(Explode("kaboom"))
    error = caught.value
    assert str(error) == "handler of trouper://bank/acct-1 raised ValueError('kaboom')"
    assert error.remote is not None
    assert (error.remote.node, error.remote.type_name, error.remote.message) == (
        "bank",
        "ValueError",
        "kaboom",
    )
    assert error.remote.traceback.endswith("ValueError: kaboom\n")
    assert "in explode" in error.remote.traceback
    assert error.__cause__ is error.remote


@trouper.message("remote_test.gated")
@attrs.frozen
class Gated(trouper.Request[str]):
    text: str


class Gatekeeper(trouper.Actor):
    """Answers ``Gated`` with its text; the first one only once ``gate`` is set."""

    def __init__(self, entered: trio.Event, gate: trio.Event) -> None:
        self.entered = entered
        self.gate = gate

    @trouper.handler
    async def gated(self, message: Gated) -> str:
        if message.text == "first":
            self.entered.set()
            await self.gate.wait()
        return message.text


async def test_an_ask_cancelled_while_the_actor_works_is_withdrawn(transport: Nats) -> None:
    """A cancelled ask raises Cancelled; its late reply is dropped, the next ask gets its own."""
    entered, gate = trio.Event(), trio.Event()
    async with nodes(transport, "a", "b") as (a, b):
        await b.spawn(Gatekeeper, entered, gate, name="keeper")
        keeper = a.remote("b", "keeper")

        async def cancel_once_entered(scope: trio.CancelScope) -> None:
            await entered.wait()
            scope.cancel()

        with trio.fail_after(5):
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(cancel_once_entered, scope)
                    await keeper.ask(Gated("first"))
            assert scope.cancelled_caught
            gate.set()
            assert await keeper.ask(Gated("second")) == "second"


async def test_an_ask_to_an_unknown_remote_actor_raises_actor_stopped(transport: Nats) -> None:
    """A node without such an actor answers as a stopped actor would; the tell is a dead letter."""
    letters: list[DeadLetter] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        bank.dead_letters.listen(letters.append)
        ghost = web.remote("bank", "ghost")
        with trio.fail_after(5), pytest.raises(ActorStopped) as caught:
            await ghost.ask(Balance())
        await ghost.tell(Deposit(1))
        with trio.fail_after(5):
            await wait_for(lambda: len(letters) == 2)
    assert type(caught.value) is ActorStopped
    assert str(caught.value) == "actor trouper://bank/ghost has stopped"
    assert [(letter.message, letter.reason) for letter in letters] == [
        (Balance(), "actor stopped"),
        (Deposit(1), "actor stopped"),
    ]


async def test_an_ask_to_a_node_that_is_not_there_raises_node_unreachable(
    transport: Nats,
) -> None:
    """No node of that name: the server says so at once, and the ask says which node."""
    async with nodes(transport, "web") as (web,):
        with trio.fail_after(5), pytest.raises(NodeUnreachable) as caught:
            await web.remote("nowhere", "x").ask(Balance())
    assert str(caught.value) == (
        "actor trouper://nowhere/x is unreachable: no node 'nowhere' is in the cluster"
    )


async def test_unhandled_and_rejected_asks_raise_the_same_errors_as_locally(
    transport: Nats,
) -> None:
    """UnhandledMessage, and a Reject's trouper or builtin error, are rebuilt as themselves."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1")
        acct = web.remote("bank", "acct-1")
        with trio.fail_after(5):
            with pytest.raises(
                UnhandledMessage, match=r"^actor trouper://bank/acct-1 has no handler for str$"
            ):
                await acct.ask("what?")
            with pytest.raises(NameTaken, match=r"^an actor named 'taken' already exists$"):
                await acct.ask(Refuse("trouper"))
            with pytest.raises(KeyError, match=r"^'missing'$"):
                await acct.ask(Refuse("builtin"))


async def test_a_rejected_error_of_an_unknown_type_arrives_as_remote_error(
    transport: Nats,
) -> None:
    """An error type only the remote node defines cannot be rebuilt: RemoteError names it."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1")
        with trio.fail_after(5), pytest.raises(RemoteError) as caught:
            await web.remote("bank", "acct-1").ask(Refuse("custom"))
    assert (caught.value.type_name, caught.value.message) == (
        "remote_support.OutOfStock",
        "no more",
    )


@attrs.frozen
class Unregistered:
    n: int


@trouper.message("remote_test.known-here-only")
@attrs.frozen
class KnownHereOnly:
    n: int


async def test_an_unregistered_message_is_refused_before_it_is_sent(transport: Nats) -> None:
    """The sender learns at once: UnregisteredMessageType, nothing sent."""
    async with nodes(transport, "bank", "web") as (_bank, web):
        acct = web.remote("bank", "acct-1")
        with pytest.raises(UnregisteredMessageType):
            await acct.tell(Unregistered(1))
        with pytest.raises(UnregisteredMessageType):
            await acct.ask(Unregistered(1))
        assert cluster_of(web).statistics().sent == 0


async def test_an_undecodable_message_becomes_a_dead_letter_with_the_reason(
    transport: Nats,
) -> None:
    """A type the receiver does not know: a dead letter there, the asker gets the error."""
    from trouper.codec import DEFAULT_REGISTRY, MessageRegistry

    narrow = MessageRegistry()
    for name in DEFAULT_REGISTRY.names():
        if name.startswith("remote_test.") and name != "remote_test.known-here-only":
            narrow.register(DEFAULT_REGISTRY.type_named(name), name)
    letters: list[DeadLetter] = []
    receiver = attrs.evolve(transport, registry=narrow)
    async with (
        trouper.open_runtime(node="bank", transport=receiver) as bank,
        nodes(transport, "web") as (web,),
    ):
        bank.dead_letters.listen(letters.append)
        await bank.spawn(Account, 0, name="acct-1")
        acct = web.remote("bank", "acct-1")
        await acct.tell(KnownHereOnly(1))
        with trio.fail_after(5), pytest.raises(trouper.errors.UnknownMessageType) as caught:
            await acct.ask(KnownHereOnly(2))
        with trio.fail_after(5):
            await wait_for(lambda: len(letters) == 2)
        assert cluster_of(bank).statistics().undecodable == 2
    reason = "no message type is registered as 'remote_test.known-here-only' in this process"
    assert str(caught.value) == reason
    assert [letter.reason for letter in letters] == [reason, reason]
    assert {letter.recipient for letter in letters} == {trouper.Address("bank", "/acct-1")}
    assert all(isinstance(letter.message, bytes) for letter in letters)


async def test_locate_finds_the_node_that_runs_a_name(transport: Nats) -> None:
    """``locate`` answers with the real address; a name nobody has gives None."""
    async with nodes(transport, "a", "b", "c") as (a, _b, c):
        await c.spawn(Account, 7, name="vault")
        with trio.fail_after(5):
            found = await locate(a, "vault")
            missing = await locate(a, "nobody")
            assert found is not None
            assert await found.ask(Balance()) == 7
    assert str(found.address) == "trouper://c/vault"
    assert missing is None


async def test_a_second_node_of_the_same_name_is_refused(transport: Nats) -> None:
    """Joining under a taken node name raises NodeNameTaken; the first node is untouched."""
    async with nodes(transport, "bank"):
        with (
            trio.fail_after(10),
            pytest.raises(NodeNameTaken, match=r"^a node named 'bank' is already in the cluster$"),
        ):
            async with trouper.open_runtime(node="bank", transport=transport):
                pass


async def test_a_node_name_must_be_one_subject_token(transport: Nats) -> None:
    """A dot or a space in the node name is refused as the runtime joins."""
    with (
        trio.fail_after(10),
        pytest.raises(
            ValueError, match=re.escape("a node name in a cluster must be one subject token")
        ),
    ):
        async with trouper.open_runtime(node="my.bank", transport=transport):
            pass


async def test_links_across_nodes_are_refused_clearly(transport: Nats) -> None:
    """``ctx.link`` to a remote actor says that links tie actors of one process only."""
    failures: list[BaseException] = []

    class Linker(trouper.Actor):
        async def receive(self, message: object) -> None:
            try:
                self.ctx.link(message)  # type: ignore[arg-type]
            except TypeError as error:
                failures.append(error)

    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1")
        linker = await web.spawn(Linker)
        await linker.tell(web.remote("bank", "acct-1"))
        with trio.fail_after(5):
            await wait_for(lambda: len(failures) == 1)
    assert "links tie actors of one process only" in str(failures[0])


async def test_the_counters_count_what_crossed(transport: Nats) -> None:
    """Sent on one side, received on the other, nothing lost between two live nodes."""
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1")
        acct = web.remote("bank", "acct-1")
        for _ in range(10):
            await acct.tell(Deposit(1))
        with trio.fail_after(5):
            assert await acct.ask(Balance()) == 10
        sent = cluster_of(web).statistics()
        received = cluster_of(bank).statistics()
    assert (sent.sent, sent.lost, sent.unsent) == (11, 0, 0)
    assert (received.received, received.lost, received.undecodable) == (11, 0, 0)


@pytest.mark.parametrize("router", ["round_robin", "broadcast"])
async def test_a_pool_on_another_node_is_told_and_asked_through_its_name(
    transport: Nats, router: str
) -> None:
    """A pool's one ref works from another node: tells are routed, asks answered."""
    from trouper.routing import Broadcast, RoundRobin

    chosen = RoundRobin() if router == "round_robin" else Broadcast()
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn_pool(Account, 2, 0, router=chosen, name="accounts")
        pool = web.remote("bank", "accounts")
        await pool.tell(Deposit(5))  # round robin: member 1
        await pool.tell(Deposit(5))  # member 2
        with trio.fail_after(5):
            answer = await pool.ask(Balance())  # member 1 again
    assert answer == ([10, 10] if router == "broadcast" else 5)
