"""Poison messages on JetStream: dead-lettered at max_deliveries, their neighbours not charged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from js_poison_worker import POISON
from js_support import Done, Job, Sink, dead_letters, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.supervision import OneForOne
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

HERE = Path(__file__).parent


class Picky(trouper.Actor):
    """Records ``(n, attempt)`` of each delivery; job ``POISON`` always raises."""

    def __init__(self, seen: list[tuple[int, int]]) -> None:
        self.seen = seen

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.seen.append((message.n, delivery.attempt))
        if message.n == POISON:
            raise ValueError("poison")


async def test_a_failing_message_is_dead_lettered_and_its_neighbours_run_once(
    js_server: NatsServer, prefix: str
) -> None:
    """Among five jobs one always fails: it alone reaches the dead-letter stream, at attempt 3."""
    seen: list[tuple[int, int]] = []
    patient = OneForOne(max_restarts=10, within=60)
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store, root_strategy=patient) as rt:
        options = Durable(max_deliveries=3, backoff=(0.05,), prefetch=8)
        ref = await rt.spawn(Picky, seen, name="jobs", mailbox=options)
        for n in range(5):
            await ref.tell(Job(n))

        async def buried() -> bool:
            return bool(await dead_letters(rt, "jobs"))

        await eventually(buried)
        await eventually(lambda: len(seen) == 7)
        await rt.store.flush()
        (record,) = await dead_letters(rt, "jobs")

        async def counts() -> tuple[int, int, int]:
            (stats,) = await rt.store.mailbox_statistics()
            return stats.depth, stats.in_flight, stats.dead

        async def drained() -> bool:
            return await counts() == (0, 0, 1)

        # flush returns once the last ack and the +TERM are written and the server
        # answered a PING; it applies them from the consumer's own queue after that.
        await eventually(drained)
        assert await counts() == (0, 0, 1)
    assert (record.message, record.attempts) == (Job(POISON), 3)
    assert record.reason == "ValueError: poison (max_deliveries 3 reached)"
    assert sorted(seen) == [(0, 1), (1, 1), (2, 1), (2, 2), (2, 3), (3, 1), (4, 1)]


async def test_a_message_that_kills_its_process_is_dead_lettered_without_charging_neighbours(
    js_server: NatsServer, prefix: str
) -> None:
    """A job that SIGKILLs its worker each run: after max_deliveries it is buried unrun.

    The worker is started again each time it dies; with prefetch 1 it held
    only the poison when it died, so every other job runs once, at attempt 1.
    """
    got: list[Done] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    starts = 0
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Sink, got, name="done", mailbox=Durable())
        jobs = durable_ref(rt, "jobs", options=Durable(prefetch=1, max_deliveries=2))
        for n in range(5):
            await jobs.tell(Job(n))

        async def finished() -> bool:
            return len(got) == 4 and bool(await dead_letters(rt, "jobs"))

        while True:
            starts += 1
            assert starts <= 5, "the poison was not dead-lettered"
            worker = subprocess.Popen(  # noqa: ASYNC220 (started once, returns at once)
                [sys.executable, str(HERE / "js_poison_worker.py"), js_server.url, prefix],
                stdout=subprocess.DEVNULL,
                env=env,
            )
            try:

                async def over(worker: subprocess.Popen[bytes] = worker) -> bool:
                    return worker.poll() is not None or await finished()

                await eventually(over, seconds=20)
                if await finished():
                    break
            finally:
                if worker.poll() is None:
                    worker.kill()
                worker.wait()
        (record,) = await dead_letters(rt, "jobs")
    assert sorted(got, key=lambda done: done.n) == [Done(n, "1") for n in range(5) if n != POISON]
    assert (record.message, record.attempts) == (Job(POISON), 3)
    assert record.reason.startswith("gave up after 2 deliveries: its handler never finished")
    assert starts == 3
