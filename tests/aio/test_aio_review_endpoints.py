"""Every kind of endpoint takes tell, tell_nowait and ask from asyncio, in order."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import attrs
import pytest
import trio
from aio_actors import Greet, Greeter, run

import trouper
from trouper import Actor, handler
from trouper.aio import AioRef, AioRuntime, open_runtime
from trouper.remote import Nats, cluster_of
from trouper.routing import Balancing, Broadcast, ConsistentHash, RoundRobin, Router
from trouper.runtime.lowlevel import Cell, Instrument, Interception, SendKind
from trouper.testing import NatsServer, TestProbe

pytestmark = pytest.mark.real_clock


@trouper.message("aio_review.step")
@attrs.frozen
class Step(trouper.Request[str]):
    """One step of a sequence: journaled by a ``Journal``, which answers with its tag."""

    tag: str


class Journal(Actor):
    """Appends each step's tag to ``journal`` and answers with it."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    @handler
    async def step(self, message: Step) -> str:
        self.journal.append(message.tag)
        return message.tag


MakeTarget = Callable[[AioRuntime, "Nats | None"], AbstractAsyncContextManager["Target"]]
"""Makes the endpoint of one kind in a runtime (the transport: the runtime's cluster, if any)."""


@attrs.define
class Target:
    """An endpoint kind under test: the ref the loop sends to, and how its steps are read."""

    ref: AioRef[object]
    answer: Callable[[str], Awaitable[None]]
    """Answer the ask whose tag is given, if the kind needs the test to (a probe)."""
    journal: Callable[[], Awaitable[list[str]]]
    """The tags received, in order."""


async def _nothing(tag: str) -> None:
    pass


def _read(journal: list[str]) -> Callable[[], Awaitable[list[str]]]:
    async def read() -> list[str]:
        return list(journal)

    return read


@asynccontextmanager
async def actor(rt: AioRuntime, transport: Nats | None) -> AsyncIterator[Target]:
    journal: list[str] = []
    yield Target(await rt.spawn(Journal, journal), _nothing, _read(journal))


def pool_of(router: Router) -> MakeTarget:
    @asynccontextmanager
    async def pool(rt: AioRuntime, transport: Nats | None) -> AsyncIterator[Target]:
        journal: list[str] = []
        spawn = functools.partial(rt.runtime.spawn_pool, router=router)
        yield Target(rt.ref(await rt.run(spawn, Journal, 1, journal)), _nothing, _read(journal))

    return pool


@asynccontextmanager
async def probe(rt: AioRuntime, transport: Nats | None) -> AsyncIterator[Target]:
    made = await rt.run_sync(TestProbe, rt.runtime)
    taken: list[str] = []

    async def take_through(tag: str) -> None:
        while not taken or taken[-1] != tag:
            [message] = await rt.run(made.receive_n, 1)
            assert isinstance(message, Step)
            taken.append(message.tag)

    async def answer(tag: str) -> None:
        await take_through(tag)
        await rt.run_sync(made.reply, tag)

    async def journal() -> list[str]:
        await take_through("6")
        return taken

    yield Target(rt.ref(made), answer, journal)


@asynccontextmanager
async def remote(rt: AioRuntime, transport: Nats | None) -> AsyncIterator[Target]:
    """An actor on node "b", a Trio runtime in a thread of its own, through the cluster."""
    assert transport is not None
    journal: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    async def node_b() -> None:
        async with trouper.open_runtime(node="b", transport=transport) as b:
            await b.spawn(Journal, journal, name="journal")
            ready.set()
            await trio.to_thread.run_sync(stop.wait)

    thread = threading.Thread(target=trio.run, args=(node_b,))
    thread.start()
    try:
        await asyncio.to_thread(ready.wait)
        cluster = cluster_of(rt.runtime)
        while "b" not in cluster.nodes():  # noqa: ASYNC110 - heard over the network
            await asyncio.sleep(0.005)
        ref = rt.ref(await rt.run_sync(cluster.ref, "b", "journal"))
        yield Target(ref, _nothing, _read(journal))
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)


KINDS: dict[str, MakeTarget] = {
    "actor": actor,
    "round-robin pool": pool_of(RoundRobin()),
    "balancing pool": pool_of(Balancing()),
    "consistent-hash pool": pool_of(ConsistentHash(key=lambda message: "one")),
    "broadcast pool": pool_of(Broadcast()),
    "probe": probe,
    "remote actor": remote,
}


@pytest.mark.parametrize("kind", KINDS, ids=list(KINDS))
def test_every_endpoint_kind_takes_tells_and_asks_from_asyncio_in_order(kind: str) -> None:
    """tell_nowait, tell and ask, an ask in flight among tells: all arrive, in order."""
    make = KINDS[kind]

    async def sequence(rt: AioRuntime, transport: Nats | None) -> tuple[list[object], list[str]]:
        async with make(rt, transport) as target:
            ref = target.ref
            ref.tell_nowait(Step("1"))
            await ref.tell(Step("2"))
            asked = asyncio.create_task(ref.ask(Step("3")))
            await asyncio.sleep(0)
            ref.tell_nowait(Step("4"))
            await ref.tell(Step("5"))
            await target.answer("3")
            replies: list[object] = [await asked]
            last = asyncio.create_task(ref.ask(Step("6")))
            await target.answer("6")
            replies.append(await last)
            return replies, await target.journal()

    async def main() -> tuple[list[object], list[str]]:
        if kind != "remote actor":
            async with open_runtime() as rt:
                return await sequence(rt, None)
        with NatsServer(jetstream=False) as server:
            transport = Nats(server.url, heartbeat=0.5)
            async with open_runtime(node="a", transport=transport) as rt:
                return await sequence(rt, transport)

    replies, journal = run(main)
    expected: list[object] = [["3"], ["6"]] if kind == "broadcast pool" else ["3", "6"]
    assert replies == expected
    assert journal == ["1", "2", "3", "4", "5", "6"]


class DelaysAsks(Instrument):
    """Intercepts every ask of a ``Greet``: records its name and delivers it a little later."""

    def __init__(self, seen: list[tuple[str, SendKind]]) -> None:
        self.seen = seen

    def intercept_send(self, actor: Cell, message: object, kind: SendKind) -> Interception | None:
        if isinstance(message, Greet):
            self.seen.append((message.name, kind))
            return Interception(delay=0.001)
        return None


def test_an_instrument_intercepting_sends_sees_an_ask_made_from_asyncio() -> None:
    """A simulation's interception applies to an ask from the loop as to one from Trio."""
    seen: list[tuple[str, SendKind]] = []

    async def main() -> str:
        async with open_runtime() as rt:
            greeter = await rt.spawn(Greeter)
            await rt.run_sync(rt.runtime.instruments.add, DelaysAsks(seen))
            return await greeter.ask(Greet("late"))

    assert run(main) == "hello late"
    assert seen == [("late", SendKind.ASK)]
