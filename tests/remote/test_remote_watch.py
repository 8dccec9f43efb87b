"""Death watch across nodes, in one process over a real server."""

from __future__ import annotations

import pytest
import trio
from remote_support import (
    Account,
    Balance,
    Explode,
    Seen,
    Watched,
    Watcher,
    WatchIt,
    nodes,
    wait_for,
)

import trouper
from trouper import Actor, Restart, Terminated, handler
from trouper.errors import NodeUnreachable
from trouper.remote import Nats

pytestmark = pytest.mark.real_clock


class Journal(Actor):
    """Watches what it is told to and records every ``Terminated``; answers ``Balance`` with 0."""

    def __init__(self, seen: list[Terminated]) -> None:
        self.seen = seen

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message)

    @handler
    async def barrier(self, message: Balance) -> int:
        return 0

    async def receive(self, message: object) -> None:
        if isinstance(message, tuple) and message[0] == "watch":
            self.ctx.watch(message[1])
        elif isinstance(message, tuple) and message[0] == "unwatch":
            self.ctx.unwatch(message[1])


async def test_a_watcher_hears_when_a_remote_actor_stops(transport: Nats) -> None:
    """A remote actor that stops normally: Terminated with no reason, its ref as the watched."""
    seen: list[Terminated] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        acct = await bank.spawn(Account, 0, name="acct-1")
        journal = await web.spawn(Journal, seen)
        remote = web.remote("bank", "acct-1")
        await journal.tell(("watch", remote))
        with trio.fail_after(5):
            await wait_until_watched(bank, "acct-1")
            await bank.stop(acct)
            await wait_for(lambda: len(seen) == 1)
    assert seen[0].ref == remote
    assert seen[0].reason is None


async def test_a_remote_actor_that_failed_reports_why(transport: Nats) -> None:
    """The reason crosses: a builtin error is rebuilt as itself."""
    reports: list[object] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        await bank.spawn(Account, 0, name="acct-1", restart=Restart.TEMPORARY)
        watcher = await web.spawn(Watcher)
        inbox = await web.spawn(Seen, reports)
        remote = web.remote("bank", "acct-1")
        await watcher.tell(WatchIt(remote, inbox))
        with trio.fail_after(5):
            await wait_until_watched(bank, "acct-1")
            await remote.tell(Explode("kaboom"))
            await wait_for(lambda: len(reports) == 1)
    assert reports == [Watched("/acct-1", "bank", "ValueError")]


async def test_watching_an_actor_the_node_does_not_have_reports_at_once(transport: Nats) -> None:
    """An unknown actor is reported as stopped (no reason) as soon as its node answers."""
    seen: list[Terminated] = []
    async with nodes(transport, "bank", "web") as (_bank, web):
        journal = await web.spawn(Journal, seen)
        await journal.tell(("watch", web.remote("bank", "ghost")))
        with trio.fail_after(5):
            await wait_for(lambda: len(seen) == 1)
    assert (str(seen[0].ref.address), seen[0].reason) == ("trouper://bank/ghost", None)


async def test_watching_an_actor_of_a_node_that_is_not_there_reports_it_unreachable(
    transport: Nats,
) -> None:
    """No such node: Terminated with NodeUnreachable saying so."""
    seen: list[Terminated] = []
    async with nodes(transport, "web") as (web,):
        journal = await web.spawn(Journal, seen)
        await journal.tell(("watch", web.remote("nowhere", "x")))
        with trio.fail_after(5):
            await wait_for(lambda: len(seen) == 1)
    reason = seen[0].reason
    assert isinstance(reason, NodeUnreachable)
    assert (
        str(reason)
        == "actor trouper://nowhere/x is unreachable: no node 'nowhere' is in the cluster"
    )


async def test_after_unwatch_no_report_comes(transport: Nats) -> None:
    """Unwatching withdraws the watch on the other node: its stop is not reported."""
    seen: list[Terminated] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        acct = await bank.spawn(Account, 0, name="acct-1")
        journal = await web.spawn(Journal, seen)
        remote = web.remote("bank", "acct-1")
        await journal.tell(("watch", remote))
        with trio.fail_after(5):
            await wait_until_watched(bank, "acct-1")
            await journal.tell(("unwatch", remote))
            await wait_for(lambda: not watched(bank, "acct-1"))
            await bank.stop(acct)
            # A report would travel before this reply (one connection, in order),
            # and the journal takes its messages in order too.
            await web.remote("bank", "other").tell(Balance())
            await journal.ask(Balance())
    assert seen == []


async def test_two_watchers_of_one_remote_actor_both_hear(transport: Nats) -> None:
    """Each local watcher is told once."""
    first: list[Terminated] = []
    second: list[Terminated] = []
    async with nodes(transport, "bank", "web") as (bank, web):
        acct = await bank.spawn(Account, 0, name="acct-1")
        remote = web.remote("bank", "acct-1")
        for seen in (first, second):
            await (await web.spawn(Journal, seen)).tell(("watch", remote))
        with trio.fail_after(5):
            await wait_until_watched(bank, "acct-1")
            await bank.stop(acct)
            await wait_for(lambda: len(first) == len(second) == 1)


def watched(runtime: trouper.Runtime, name: str) -> bool:
    """Whether another node watches the local actor ``name`` (its cell has a watcher)."""
    from trouper.runtime.lowlevel import cell_of

    ref = runtime.lookup(name)
    return ref is not None and bool(cell_of(ref).bonds.watchers)


async def wait_until_watched(runtime: trouper.Runtime, name: str) -> None:
    """Wait until the watch request has reached the actor's node."""
    await wait_for(lambda: watched(runtime, name))
