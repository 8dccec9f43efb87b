"""Review: ``max_deliveries`` on JetStream counts every run, across runtimes and processes."""

from __future__ import annotations

import pytest
import trio
from js_support import Job, dead_letters, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Failing(trouper.Actor):
    """Records the attempt of each run, which always raises; sets ``twice`` after two runs."""

    def __init__(self, attempts: list[int], twice: trio.Event) -> None:
        self.attempts = attempts
        self.twice = twice

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.attempts.append(delivery.attempt)
        if len(self.attempts) == 2:
            self.twice.set()
        raise ValueError("poison")


async def test_max_deliveries_counts_the_runs_of_a_runtime_that_stopped(
    js_server: NatsServer, prefix: str
) -> None:
    """Two failed runs, a new runtime (a restart): one more run, then the dead-letter queue.

    The deliveries are the server's count, kept across processes: the new
    runtime's first delivery is attempt 3, not 1, so a poison message does
    not get ``max_deliveries`` more runs after each restart.
    """
    attempts: list[int] = []
    options = Durable(max_deliveries=3, backoff=(0.3,), prefetch=1)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        twice = trio.Event()
        await rt.spawn(Failing, attempts, twice, name="jobs", mailbox=options)
        await durable_ref(rt, "jobs").tell(Job(1))
        with trio.fail_after(10):
            await twice.wait()
    assert attempts == [1, 2]
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Failing, attempts, trio.Event(), name="jobs", mailbox=options)
        await eventually(lambda: dead_letters(rt, "jobs"))
        (record,) = await dead_letters(rt, "jobs")
    assert attempts == [1, 2, 3]
    assert (record.message, record.attempts) == (Job(1), 3)
    assert record.reason == "ValueError: poison (max_deliveries 3 reached)"
