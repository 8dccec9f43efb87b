"""Routing workload: a balancing pool of 4 against one actor, on the same handler.

``n`` is the number of messages one sender tells; the handler counts the
message and yields once (``await trio.lowlevel.checkpoint()``, the smallest
await a real handler makes). One actor handles a message per trip through Trio's run
loop; the pool's members share one mailbox, so up to four messages are in
hand per trip. A sample's value is messages handled per second, and
``handled`` how many were counted. Register it in ``bench.workloads`` as, for
example (the single actor is the baseline, so the ratio is the pool's gain)::

    Workload(
        "balancing",
        f"balancing pool of {POOL_SIZE} vs 1 actor, yielding handler",
        100_000,
        "msg/s",
        routing_bench.single_actor,
        routing_bench.balancing_pool,
        None,
        baseline="1 actor",
    )
"""

from __future__ import annotations

from time import perf_counter

import trio
import trio.lowlevel
from trio.testing import wait_all_tasks_blocked

import trouper
from bench.common import MAILBOX_SIZE, PING, Ping, Sample, Tally, rate
from trouper.routing import Balancing

__all__ = ["POOL_SIZE", "balancing_pool", "single_actor"]

POOL_SIZE = 4
"""Members of the balancing pool."""


class YieldingCounter(trouper.Actor):
    """Counts each ping in a shared tally, then yields to the scheduler once."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    @trouper.handler
    async def ping(self, message: Ping) -> None:
        self.tally.add()
        await trio.lowlevel.checkpoint()


async def _drive(ref: trouper.ActorRef[object], n: int, tally: Tally) -> float:
    """Tell ``ref`` ``n`` pings (``tell`` when ``tell_nowait`` finds it full); return msg/s."""
    await wait_all_tasks_blocked()
    start = perf_counter()
    for _ in range(n):
        try:
            ref.tell_nowait(PING)
        except trouper.MailboxFull:
            await ref.tell(PING)
    await tally.done.wait()
    return rate(n, start)


def balancing_pool(n: int, size: int = POOL_SIZE) -> Sample:
    """``n`` messages through a ``Balancing()`` pool of ``size`` yielding counters."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            pool = await runtime.spawn_pool(YieldingCounter, size, tally, router=Balancing())
            value = await _drive(pool, n, tally)
        return Sample(value, tally.count)

    return trio.run(main)


def single_actor(n: int) -> Sample:
    """``n`` messages to one yielding counter (the baseline of ``balancing_pool``)."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            ref = await runtime.spawn(YieldingCounter, tally)
            value = await _drive(ref, n, tally)
        return Sample(value, tally.count)

    return trio.run(main)
