"""Topics workload: publish to 100 subscribers through one wildcard pattern, both sides.

``n`` is the number of publishes; each reaches every subscriber, so a sample's
value is deliveries (messages handled) per second, comparable with the
fan-out row, and ``handled`` is the number of publishes every subscriber
handled. Register it in ``bench.workloads`` as, for example::

    Workload(
        "publish",
        f"publish, 1 -> {SUBSCRIBERS} via 'bench.*.x'",
        2_000,
        "msg/s",
        topics_bench.raw_publish,
        topics_bench.trouper_publish,
        Target(0.5),
    )
"""

from __future__ import annotations

from time import perf_counter

import trio
from trio.testing import wait_all_tasks_blocked

import trouper
from bench.common import MAILBOX_SIZE, PING, Ping, Sample, Tally, rate
from bench.trouper_side import Counter

__all__ = ["PATTERN", "SUBJECT", "SUBSCRIBERS", "raw_publish", "trouper_publish"]

SUBSCRIBERS = 100
"""How many subscribers each publish reaches."""

PATTERN = "bench.*.x"
"""What every trouper subscriber subscribes to."""

SUBJECT = "bench.ticks.x"
"""What the trouper side publishes on (it matches ``PATTERN``)."""


async def _counter(receive: trio.MemoryReceiveChannel[Ping], tally: Tally) -> None:
    """A raw subscriber: ``async for`` over its channel, a checkpoint per message."""
    async for _ in receive:
        tally.add()


def raw_publish(n: int, subscribers: int = SUBSCRIBERS) -> Sample:
    """Raw Trio: ``n`` times, ``await send`` the message on each subscriber's channel in turn."""

    async def main() -> Sample:
        tally = Tally(n * subscribers)
        async with trio.open_nursery() as nursery:
            sends = []
            for _ in range(subscribers):
                send, receive = trio.open_memory_channel[Ping](MAILBOX_SIZE)
                nursery.start_soon(_counter, receive, tally)
                sends.append(send)
            await wait_all_tasks_blocked()
            start = perf_counter()
            for _ in range(n):
                for send in sends:
                    await send.send(PING)
            await tally.done.wait()
            value = rate(n * subscribers, start)
            for send in sends:
                send.close()
        return Sample(value, tally.count // subscribers)

    return trio.run(main)


def trouper_publish(n: int, subscribers: int = SUBSCRIBERS) -> Sample:
    """trouper: ``n`` times ``await rt.topics.publish`` to actors subscribed with a wildcard."""

    async def main() -> Sample:
        tally = Tally(n * subscribers)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            topics = runtime.topics
            for _ in range(subscribers):
                topics.subscribe(await runtime.spawn(Counter, tally), PATTERN)
            await wait_all_tasks_blocked()
            start = perf_counter()
            for _ in range(n):
                await topics.publish(SUBJECT, PING)
            await tally.done.wait()
            value = rate(n * subscribers, start)
        return Sample(value, tally.count // subscribers)

    return trio.run(main)
