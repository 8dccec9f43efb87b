"""The trouper side of each workload: the same work as ``bench.raw``, through actors.

Each function runs one workload of size ``n`` in a fresh ``trio.run`` with
its own runtime and returns a ``Sample``. Setting up (spawning, linking a
ring) and shutting down the runtime are outside the timed part, as they are
on the raw side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter

import attrs
import trio
from trio.testing import wait_all_tasks_blocked

import trouper
from bench.common import (
    MAILBOX_SIZE,
    PING,
    MemoryProbe,
    Ping,
    ProbeKind,
    Sample,
    Tally,
    Token,
    rate,
)
from trouper import ActorRef

__all__ = [
    "ask",
    "fan_out",
    "idle_memory",
    "ring",
    "spawn_stop",
    "stop_only",
    "tell",
    "tell_nowait",
]


class Counter(trouper.Actor):
    """Counts the pings it handles in a shared tally and replies with the count."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    @trouper.handler
    async def ping(self, message: Ping) -> int:
        return self.tally.add()


@attrs.frozen
class Link:
    """Tells a ring node where to pass the token."""

    next_node: trouper.ActorRef[object]
    """The node after this one."""


class RingNode(trouper.Actor):
    """A ring member: counts the token and passes it on while hops remain."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.next_node = self.ctx.self_ref

    @trouper.handler
    async def link(self, message: Link) -> None:
        self.next_node = message.next_node

    @trouper.handler
    async def token(self, message: Token) -> None:
        self.tally.add()
        if message.left:
            await self.next_node.tell(Token(message.left - 1))


def _one_actor(n: int, send_all: Callable[[ActorRef[object], int], Awaitable[None]]) -> Sample:
    """Time ``send_all(ref, n)`` to one idle actor, until it has handled all ``n`` messages."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            ref = await runtime.spawn(Counter, tally)
            await wait_all_tasks_blocked()
            start = perf_counter()
            await send_all(ref, n)
            await tally.done.wait()
            value = rate(n, start)
        return Sample(value, tally.count)

    return trio.run(main)


async def _tell_each(ref: ActorRef[object], n: int) -> None:
    for _ in range(n):
        await ref.tell(PING)


async def _tell_in_bursts(ref: ActorRef[object], n: int) -> None:
    for _ in range(n):
        try:
            ref.tell_nowait(PING)
        except trouper.MailboxFull:
            await ref.tell(PING)


def tell(n: int) -> Sample:
    """One sender, one actor: ``await tell`` per message, then wait until all are handled."""
    return _one_actor(n, _tell_each)


def tell_nowait(n: int) -> Sample:
    """One sender, one actor: ``tell_nowait`` until ``MailboxFull``, then one ``await tell``."""
    return _one_actor(n, _tell_in_bursts)


def ask(n: int) -> Sample:
    """``ask`` in sequence, each waiting for the handler's reply."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            ref = await runtime.spawn(Counter, tally)
            await wait_all_tasks_blocked()
            start = perf_counter()
            for _ in range(n):
                await ref.ask(PING)
            value = rate(n, start)
        return Sample(value, tally.count)

    return trio.run(main)


def spawn_stop(n: int) -> Sample:
    """Spawn ``n`` actors, let them go idle, then stop them one by one."""

    async def main() -> Sample:
        tally = Tally(0)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            start = perf_counter()
            refs = [await runtime.spawn(Counter, tally) for _ in range(n)]
            await wait_all_tasks_blocked()
            alive = len(runtime.root.children)
            for ref in refs:
                await runtime.stop(ref)
            value = rate(n, start)
            left = len(runtime.root.children)
        return Sample(value, alive if left == 0 else -left)

    return trio.run(main)


def stop_only(n: int) -> Sample:
    """Spawn ``n`` actors, let them go idle; time stopping them one by one until all ended."""

    async def main() -> Sample:
        tally = Tally(0)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            refs = [await runtime.spawn(Counter, tally) for _ in range(n)]
            await wait_all_tasks_blocked()
            alive = len(runtime.root.children)
            start = perf_counter()
            for ref in refs:
                await runtime.stop(ref)
            await wait_all_tasks_blocked()
            value = rate(n, start)
            left = len(runtime.root.children)
        return Sample(value, alive if left == 0 else -left)

    return trio.run(main)


def idle_memory(n: int, kind: ProbeKind) -> Sample:
    """Memory per idle actor (default mailbox) waiting for mail."""

    async def main() -> Sample:
        tally = Tally(0)
        async with trouper.open_runtime() as runtime:
            probe = MemoryProbe(kind)
            probe.start()
            refs = [await runtime.spawn(Counter, tally) for _ in range(n)]
            await wait_all_tasks_blocked()
            value = probe.per_item(n)
        return Sample(value, len(refs))

    return trio.run(main)


def ring(n: int, size: int) -> Sample:
    """A token makes ``n`` hops around a ring of ``size`` actors."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            refs = [await runtime.spawn(RingNode, tally) for _ in range(size)]
            for i, ref in enumerate(refs):
                await ref.ask(Link(refs[(i + 1) % size]))
            await wait_all_tasks_blocked()
            start = perf_counter()
            await refs[0].tell(Token(n - 1))
            await tally.done.wait()
            value = rate(n, start)
        return Sample(value, tally.count)

    return trio.run(main)


def fan_out(n: int, size: int) -> Sample:
    """One sender spreads ``n`` messages round-robin over ``size`` actors."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            refs = [await runtime.spawn(Counter, tally) for _ in range(size)]
            await wait_all_tasks_blocked()
            start = perf_counter()
            for i in range(n):
                await refs[i % size].tell(PING)
            await tally.done.wait()
            value = rate(n, start)
        return Sample(value, tally.count)

    return trio.run(main)
