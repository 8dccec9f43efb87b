"""Raw Trio baselines: one task per actor reading a memory channel, no framework.

Each function runs one workload of size ``n`` in a fresh ``trio.run`` and
returns a ``Sample``; ``bench.trouper_side`` has the twin of each. These are
written as plain Trio code at its fastest: no wrappers, no dispatch, the
handler's work inline in the task's loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter

import trio
from trio.testing import wait_all_tasks_blocked

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

__all__ = [
    "ask",
    "fan_out",
    "idle_memory",
    "ring",
    "spawn_stop",
    "stop_only",
    "tell",
    "tell_greedy",
]

Reply = trio.MemorySendChannel[int]


async def _counter(receive: trio.MemoryReceiveChannel[Ping], tally: Tally) -> None:
    """A raw actor: ``async for`` over its channel, a checkpoint per message."""
    async for _ in receive:
        tally.add()


async def _greedy_counter(receive: trio.MemoryReceiveChannel[Ping], tally: Tally) -> None:
    """A raw actor that drains its channel without yielding and waits only when it is empty."""
    while True:
        try:
            receive.receive_nowait()
        except trio.WouldBlock:
            try:
                await receive.receive()
            except trio.EndOfChannel:
                return
        except trio.EndOfChannel:
            return
        tally.add()


async def _server(receive: trio.MemoryReceiveChannel[tuple[Ping, Reply]], tally: Tally) -> None:
    """A raw actor that answers requests on the reply channel each one carries."""
    async for _, reply in receive:
        await reply.send(tally.add())


async def _ring_node(
    receive: trio.MemoryReceiveChannel[Token],
    next_node: trio.MemorySendChannel[Token],
    tally: Tally,
) -> None:
    """A raw ring member: count the token and pass it on while hops remain."""
    async for token in receive:
        tally.add()
        if token.left:
            await next_node.send(Token(token.left - 1))


def _one_task(
    n: int,
    consumer: Callable[[trio.MemoryReceiveChannel[Ping], Tally], Awaitable[None]],
    send_all: Callable[[trio.MemorySendChannel[Ping], int], Awaitable[None]],
) -> Sample:
    """Time ``send_all(channel, n)`` to one idle consumer task, until it has counted ``n``."""

    async def main() -> Sample:
        tally = Tally(n)
        send, receive = trio.open_memory_channel[Ping](MAILBOX_SIZE)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer, receive, tally)
            await wait_all_tasks_blocked()
            start = perf_counter()
            await send_all(send, n)
            await tally.done.wait()
            value = rate(n, start)
            send.close()
        return Sample(value, tally.count)

    return trio.run(main)


async def _send_each(send: trio.MemorySendChannel[Ping], n: int) -> None:
    for _ in range(n):
        await send.send(PING)


async def _send_greedily(send: trio.MemorySendChannel[Ping], n: int) -> None:
    for _ in range(n):
        try:
            send.send_nowait(PING)
        except trio.WouldBlock:
            await send.send(PING)


def tell(n: int) -> Sample:
    """One sender, one task: ``await send`` per message, then wait until all are handled."""
    return _one_task(n, _counter, _send_each)


def tell_greedy(n: int) -> Sample:
    """One sender, one greedy task: both sides yield only when the channel is full or empty."""
    return _one_task(n, _greedy_counter, _send_greedily)


def ask(n: int) -> Sample:
    """Request/reply in sequence: a request channel, and one reply channel for the client."""

    async def main() -> Sample:
        tally = Tally(n)
        requests, receive = trio.open_memory_channel[tuple[Ping, Reply]](MAILBOX_SIZE)
        reply, replies = trio.open_memory_channel[int](1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_server, receive, tally)
            await wait_all_tasks_blocked()
            start = perf_counter()
            for _ in range(n):
                await requests.send((PING, reply))
                await replies.receive()
            value = rate(n, start)
            requests.close()
        return Sample(value, tally.count)

    return trio.run(main)


def spawn_stop(n: int) -> Sample:
    """Start ``n`` tasks with their channels, let them block, then close the channels."""

    async def main() -> Sample:
        tally = Tally(0)
        start = perf_counter()
        async with trio.open_nursery() as nursery:
            sends = []
            for _ in range(n):
                send, receive = trio.open_memory_channel[Ping](MAILBOX_SIZE)
                nursery.start_soon(_counter, receive, tally)
                sends.append(send)
            await wait_all_tasks_blocked()
            alive = len(nursery.child_tasks)
            for send in sends:
                send.close()
        # Leaving the nursery waited for every task to end.
        return Sample(rate(n, start), alive)

    return trio.run(main)


def stop_only(n: int) -> Sample:
    """Start ``n`` idle tasks; time closing their channels until every task has ended."""

    async def main() -> Sample:
        tally = Tally(0)
        async with trio.open_nursery() as nursery:
            sends = []
            for _ in range(n):
                send, receive = trio.open_memory_channel[Ping](MAILBOX_SIZE)
                nursery.start_soon(_counter, receive, tally)
                sends.append(send)
            await wait_all_tasks_blocked()
            alive = len(nursery.child_tasks)
            start = perf_counter()
            for send in sends:
                send.close()
        # Leaving the nursery waited for every task to end.
        return Sample(rate(n, start), alive)

    return trio.run(main)


def idle_memory(n: int, kind: ProbeKind) -> Sample:
    """Memory per idle task blocked on ``async for`` over its own channel."""

    async def main() -> Sample:
        tally = Tally(0)
        async with trio.open_nursery() as nursery:
            probe = MemoryProbe(kind)
            probe.start()
            sends = []
            for _ in range(n):
                send, receive = trio.open_memory_channel[Ping](MAILBOX_SIZE)
                nursery.start_soon(_counter, receive, tally)
                sends.append(send)
            del send, receive
            await wait_all_tasks_blocked()
            value = probe.per_item(n)
            for send in sends:
                send.close()
        return Sample(value, len(sends))

    return trio.run(main)


def ring(n: int, size: int) -> Sample:
    """A token makes ``n`` hops around a ring of ``size`` tasks."""

    async def main() -> Sample:
        tally = Tally(n)
        channels = [trio.open_memory_channel[Token](MAILBOX_SIZE) for _ in range(size)]
        async with trio.open_nursery() as nursery:
            for i, (_, receive) in enumerate(channels):
                nursery.start_soon(_ring_node, receive, channels[(i + 1) % size][0], tally)
            await wait_all_tasks_blocked()
            start = perf_counter()
            await channels[0][0].send(Token(n - 1))
            await tally.done.wait()
            value = rate(n, start)
            nursery.cancel_scope.cancel()
        return Sample(value, tally.count)

    return trio.run(main)


def fan_out(n: int, size: int) -> Sample:
    """One sender spreads ``n`` messages round-robin over ``size`` tasks."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trio.open_nursery() as nursery:
            sends = []
            for _ in range(size):
                send, receive = trio.open_memory_channel[Ping](MAILBOX_SIZE)
                nursery.start_soon(_counter, receive, tally)
                sends.append(send)
            await wait_all_tasks_blocked()
            start = perf_counter()
            for i in range(n):
                await sends[i % size].send(PING)
            await tally.done.wait()
            value = rate(n, start)
            for send in sends:
                send.close()
        return Sample(value, tally.count)

    return trio.run(main)
