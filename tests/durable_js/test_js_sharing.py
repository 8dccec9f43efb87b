"""Durable mailboxes shared through JetStream: several hosts, tells from afar, faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import trio
from js_support import Done, Job, Sink, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

HERE = Path(__file__).parent


class Worker(trouper.Actor):
    """Records which job it handled, under its host's name."""

    def __init__(self, who: str, handled: list[tuple[str, int]]) -> None:
        self.who = who
        self.handled = handled

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.handled.append((self.who, message.n))
        await trio.sleep(0.001)  # a little work, so that both hosts get some


async def test_two_runtimes_sharing_a_mailbox_each_handle_a_share_and_none_twice(
    js_server: NatsServer, prefix: str
) -> None:
    """Two hosts of one durable mailbox make a work queue: every job once, both get some."""
    handled: list[tuple[str, int]] = []
    options = Durable(prefetch=8)
    async with (
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as one,
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as two,
    ):
        await one.spawn(Worker, "one", handled, name="jobs", mailbox=options)
        await two.spawn(Worker, "two", handled, name="jobs", mailbox=options)
        jobs = durable_ref(one, "jobs")
        for n in range(200):
            jobs.tell_nowait(Job(n))
        await one.store.flush()
        await eventually(lambda: len(handled) >= 200)
        await trio.sleep(0.2)
    assert sorted(n for _, n in handled) == list(range(200))
    shares = Counter(who for who, _ in handled)
    assert shares["one"] > 0
    assert shares["two"] > 0


async def test_a_runtime_tells_a_durable_actor_it_does_not_host(
    js_server: NatsServer, prefix: str
) -> None:
    """durable_ref in a runtime without the actor: the tell reaches the host through the server."""
    handled: list[tuple[str, int]] = []
    async with (
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as host,
        trouper.open_runtime(store=store_for(js_server.url, prefix)) as teller,
    ):
        await host.spawn(Worker, "host", handled, name="billing", mailbox=Durable())
        await durable_ref(teller, "billing").tell(Job(1), msg_id="j-1")
        await durable_ref(teller, "billing").tell(Job(1), msg_id="j-1")
        await eventually(lambda: handled)
        await trio.sleep(0.2)
        with pytest.raises(trouper.ActorStopped):
            await durable_ref(teller, "billing").ask(Job(2))
    assert handled == [("host", 1)]


async def test_messages_told_before_any_host_wait_for_the_first_one(
    js_server: NatsServer, prefix: str
) -> None:
    """A tell to a mailbox nobody opened makes its stream; the first host gets the messages."""
    handled: list[tuple[str, int]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        for n in range(3):
            await durable_ref(rt, "later").tell(Job(n))
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Worker, "late", handled, name="later", mailbox=Durable())
        await eventually(lambda: len(handled) == 3)
    assert handled == [("late", 0), ("late", 1), ("late", 2)]


async def test_a_server_restart_in_the_middle_of_a_stream_loses_no_durable_message(
    own_js_server: NatsServer, prefix: str
) -> None:
    """The server restarts while a sender tells and a host consumes: every job arrives."""
    handled: list[tuple[str, int]] = []
    store = store_for(own_js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        await rt.spawn(Worker, "host", handled, name="jobs", mailbox=Durable())
        jobs = durable_ref(rt, "jobs")

        async def send() -> None:
            for n in range(300):
                await jobs.tell(Job(n))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            await eventually(lambda: len(handled) >= 50)
            await own_js_server.arestart()
        await eventually(lambda: len({n for _, n in handled}) == 300, seconds=30)
    assert {n for _, n in handled} == set(range(300))


async def test_a_killed_worker_process_messages_go_to_the_survivor(
    js_server: NatsServer, prefix: str
) -> None:
    """SIGKILL a worker process mid-stream: what it held is redelivered to the survivor."""
    got: list[Done] = []
    handled: list[tuple[str, int]] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    worker = subprocess.Popen(  # noqa: ASYNC220 (started once, returns at once)
        [sys.executable, str(HERE / "js_worker.py"), js_server.url, prefix],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
            await rt.spawn(Sink, got, name="done", mailbox=Durable())
            assert worker.stdout is not None
            line = await trio.to_thread.run_sync(worker.stdout.readline)
            assert line.strip() == b"ready"
            jobs = durable_ref(rt, "jobs")
            for n in range(100):
                jobs.tell_nowait(Job(n))
            await rt.store.flush()
            await eventually(lambda: len(got) >= 20)
            worker.send_signal(signal.SIGKILL)
            await trio.to_thread.run_sync(worker.wait)
            held = 100 - len(got)
            # The survivor: the test's runtime hosts the same mailbox (ack_wait 2 s).
            await rt.spawn(Worker, "survivor", handled, name="jobs", mailbox=Durable())
            await eventually(lambda: len({d.n for d in got} | {n for _, n in handled}) == 100)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        assert worker.stdout is not None
        worker.stdout.close()
    assert held > 0
    assert {d.n for d in got} | {n for _, n in handled} == set(range(100))
    assert handled  # the survivor took over what the dead process held or never got
