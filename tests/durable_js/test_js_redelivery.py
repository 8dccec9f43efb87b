"""Redelivery on JetStream: one handler at a time per message, within a runtime and across hosts."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from js_support import Done, Job, Sink, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.routing import Balancing
from trouper.supervision import OneForOne
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

HERE = Path(__file__).parent

ACK_WAIT = 0.5
"""The stores' ack_wait here: each slow handler below runs three times as long."""


class Runs(trouper.Actor):
    """Records each run of a job (host, attempt, start, end).

    A run takes ``seconds`` (three times ack_wait by default); attempts before
    ``succeeds_at`` fail once they have run.
    """

    def __init__(
        self,
        who: str,
        runs: list[tuple[str, int, float, float]],
        seconds: float = 3 * ACK_WAIT,
        succeeds_at: int = 1,
    ) -> None:
        self.who = who
        self.runs = runs
        self.seconds = seconds
        self.succeeds_at = succeeds_at

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        start = trio.current_time()
        await trio.sleep(self.seconds)
        self.runs.append((self.who, delivery.attempt, start, trio.current_time()))
        if delivery.attempt < self.succeeds_at:
            raise ValueError("not yet")


async def test_a_handler_running_past_ack_wait_keeps_its_message_from_the_other_host(
    js_server: NatsServer, prefix: str
) -> None:
    """Two hosts, a handler three times ack_wait: its message is not handed to the other one."""
    runs: list[tuple[str, int, float, float]] = []
    options = Durable(prefetch=1)
    async with (
        trouper.open_runtime(store=store_for(js_server.url, prefix, ack_wait=ACK_WAIT)) as one,
        trouper.open_runtime(store=store_for(js_server.url, prefix, ack_wait=ACK_WAIT)) as two,
    ):
        await one.spawn(Runs, "one", runs, name="jobs", mailbox=options)
        await two.spawn(Runs, "two", runs, name="jobs", mailbox=options)
        await durable_ref(one, "jobs").tell(Job(1))
        await eventually(lambda: runs)
        await trio.sleep(4 * ACK_WAIT)  # a redelivery would have come and finished by now
        await one.store.flush()
        await two.store.flush()
        (stats,) = await one.store.mailbox_statistics()
    assert [(who, attempt) for who, attempt, _, _ in runs] in ([("one", 1)], [("two", 1)])
    assert (stats.depth, stats.in_flight) == (0, 0)


async def test_a_pool_member_running_past_ack_wait_keeps_its_message_from_the_others(
    js_server: NatsServer, prefix: str
) -> None:
    """One runtime, a pool of three on one mailbox: a slow handler's message is not run again."""
    runs: list[tuple[str, int, float, float]] = []
    store = store_for(js_server.url, prefix, ack_wait=ACK_WAIT)
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn_pool(
            Runs, 3, "pool", runs, router=Balancing(), name="jobs", mailbox=Durable()
        )
        await durable_ref(rt, "jobs").tell(Job(1))
        await eventually(lambda: runs)
        await trio.sleep(4 * ACK_WAIT)
    assert [(who, attempt) for who, attempt, _, _ in runs] == [("pool", 1)]


async def test_a_nacked_message_comes_back_once_its_run_ended_to_one_host_at_a_time(
    js_server: NatsServer, prefix: str
) -> None:
    """Two hosts, a job failing twice: its three runs follow one another, none overlapping."""
    runs: list[tuple[str, int, float, float]] = []
    options = Durable(prefetch=1, backoff=(0.05,), max_deliveries=5)
    patient = OneForOne(max_restarts=10, within=60)
    async with (
        trouper.open_runtime(
            store=store_for(js_server.url, prefix, ack_wait=ACK_WAIT), root_strategy=patient
        ) as one,
        trouper.open_runtime(
            store=store_for(js_server.url, prefix, ack_wait=ACK_WAIT), root_strategy=patient
        ) as two,
    ):
        await one.spawn(Runs, "one", runs, 0.2, 3, name="jobs", mailbox=options)
        await two.spawn(Runs, "two", runs, 0.2, 3, name="jobs", mailbox=options)
        await durable_ref(one, "jobs").tell(Job(1))
        await eventually(lambda: len(runs) >= 3)
        await trio.sleep(2 * ACK_WAIT)
    assert [attempt for _, attempt, _, _ in runs] == [1, 2, 3]
    for (_, _, _, end), (_, _, start, _) in itertools.pairwise(runs):
        assert end <= start


class Forwarder(trouper.Actor):
    """Forwards each job to ``sink`` as ``Done(n, "<who>:<attempt>")``."""

    def __init__(self, sink: trouper.ActorRef[object], who: str) -> None:
        self.sink = sink
        self.who = who

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        await self.sink.tell(Done(message.n, f"{self.who}:{delivery.attempt}"))


async def test_a_frozen_hosts_message_goes_to_another_and_its_late_sends_are_dropped(
    js_server: NatsServer, prefix: str
) -> None:
    """A host frozen past ack_wait loses its message; the sends of its late run are dropped.

    Sends carry keys derived from their message, so every run of a handler
    for one message publishes the same keys and the server keeps the first.
    """
    got: list[Done] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    worker = subprocess.Popen(  # noqa: ASYNC220 (started once, returns at once)
        [sys.executable, str(HERE / "js_forwarder.py"), js_server.url, prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert worker.stdin is not None
    assert worker.stdout is not None
    stdout = worker.stdout

    async def expect(line: bytes) -> None:
        with trio.fail_after(20):
            assert (await trio.to_thread.run_sync(stdout.readline)).strip() == line

    try:
        store = store_for(js_server.url, prefix, ack_wait=ACK_WAIT)
        async with trouper.open_runtime(store=store) as rt:
            await rt.spawn(Sink, got, name="sink", mailbox=Durable())
            await expect(b"ready")
            await durable_ref(rt, "fw").tell(Job(1))
            await expect(b"holding")  # its Done(1, "worker:1") is staged until it returns
            worker.send_signal(signal.SIGSTOP)
            try:
                sink = durable_ref(rt, "sink")
                await rt.spawn(Forwarder, sink, "test", name="fw", mailbox=Durable(prefetch=1))
                await eventually(lambda: got)
            finally:
                worker.send_signal(signal.SIGCONT)
            await expect(b"returning")
            worker.stdin.write(b"stop\n")
            worker.stdin.flush()
            await expect(b"flushed")  # the late run's send was published
            await rt.store.flush()
            await trio.sleep(0.3)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
        worker.stdin.close()
        stdout.close()
    assert got == [Done(1, "test:2")]
