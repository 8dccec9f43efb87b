"""Benchmark trouper.remote between processes against nats-py: ``python -m bench.remote_bench``.

Method: one ``nats-server`` (from the venv, JetStream off) runs for the whole
benchmark. Each sample starts a *far* process (a trouper node, or a nats-py
client on asyncio) and drives it from this process (a trouper node under
Trio, or a nats-py client under asyncio), so every message crosses from one
process to another through the server, as between two nodes. The two sides
of a workload run interleaved (alternating which goes first) for
``--repeat`` rounds and the best sample of each is kept. Only the work is
timed (``time.perf_counter``): starting processes, connecting and joining
are not. Each trouper sample uses a cluster prefix of its own.

Workloads (the far side's handler does nothing but count or answer):

- ``tell``: N remote tells of a small registered message to an actor that
  counts them and, at N, tells a ``Done`` back; nats-py publishes N payloads
  of the same size as trouper's frames to a callback subscriber that counts
  them and publishes ``done`` at N.
- ``ask``: N asks in sequence to an actor that answers with the message;
  nats-py: N requests to a callback responder that answers with the payload.
- ``ask-32``: the same N asks from 32 concurrent tasks.
- ``work-1`` / ``work-2``: N CPU-bound jobs (a pure-Python loop of about a
  millisecond) published on a topic that a queue group of worker actors
  takes, one worker per process, over one and then two worker processes;
  each worker tells its result to a collector on the publishing node (a ref
  carried in the job). The table shows the speed-up of two over one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from time import perf_counter
from typing import Any

import attrs
import trio

import trouper
from bench.common import (
    add_run_options,
    best_of_interleaved,
    check_count,
    format_table,
    run_from_args,
    shares,
)
from trouper import Actor, ActorRef, handler
from trouper.remote import Nats, cluster_of
from trouper.testing import NatsServer

CONCURRENCY = 32
DEADLINE = 120.0
"""Seconds a sample may take before the benchmark gives up on it."""
WORK = 30_000
"""Loop rounds of one CPU-bound job (about a millisecond of pure Python)."""
_prefixes = itertools.count(1)


@trouper.message("bench.remote.ping")
@attrs.frozen
class Ping:
    """The message of the tell and ask workloads."""

    n: int


@trouper.message("bench.remote.start")
@attrs.frozen
class Start:
    """Tells the sink to expect ``n`` pings and then tell ``done``."""

    n: int
    done: ActorRef[object]


@trouper.message("bench.remote.done")
@attrs.frozen
class Done:
    """The sink has counted its pings."""


@trouper.message("bench.remote.job")
@attrs.frozen
class Job:
    """A CPU-bound job; its result goes to ``reply_to``."""

    n: int
    rounds: int
    reply_to: ActorRef[object]


@trouper.message("bench.remote.result")
@attrs.frozen
class Result:
    """A job's result."""

    n: int
    value: int


PING = Ping(0)
_codec = trouper.codec.Codec()
PAYLOAD = b"x" * (24 + len(_codec.encode_blob(PING)))
"""nats-py's payload: as long as a trouper frame holding ``PING``."""


# --- the far side: node processes ----------------------------------------------------


class Sink(Actor):
    """Counts pings; tells ``done`` once it has the number ``Start`` announced."""

    def __init__(self) -> None:
        self.expected = -1
        self.count = 0
        self.done: ActorRef[object] | None = None

    @handler
    async def start(self, message: Start) -> None:
        self.expected, self.count, self.done = message.n, 0, message.done

    @handler
    async def ping(self, message: Ping) -> None:
        self.count += 1
        if self.count == self.expected and self.done is not None:
            self.done.tell_nowait(Done())


class Echo(Actor):
    """Answers every ping with itself."""

    @handler
    async def ping(self, message: Ping) -> Ping:
        return message


def crunch(rounds: int) -> int:
    """The CPU-bound work of one job."""
    total = 0
    for i in range(rounds):
        total += i * i % 7
    return total


class Worker(Actor):
    """Runs a job and tells its result to the job's ``reply_to``."""

    @handler
    async def job(self, message: Job) -> None:
        message.reply_to.tell_nowait(Result(message.n, crunch(message.rounds)))


async def serve_trouper(url: str, prefix: str, node: str, role: str) -> None:
    logging.getLogger("trouper.remote").setLevel(logging.ERROR)  # nodes leaving: expected
    transport = Nats(url, prefix=prefix, heartbeat=5.0)
    async with trouper.open_runtime(node=node, transport=transport, mailbox_size=100_000) as rt:
        if role == "worker":
            rt.topics.subscribe(await rt.spawn(Worker), "bench.jobs", queue="workers")
            await cluster_of(rt).flush()
        else:
            await rt.spawn(Sink, name="sink")
            await rt.spawn(Echo, name="echo")
        print("ready", flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        while await stdin.receive_some():
            pass


async def serve_nats_py(url: str) -> None:
    import nats

    nc = await nats.connect(url)
    state = {"expected": -1, "count": 0}

    async def start(msg: Any) -> None:
        state["expected"], state["count"] = int(msg.data), 0
        await msg.respond(b"ok")

    async def data(msg: Any) -> None:
        state["count"] += 1
        if state["count"] == state["expected"]:
            await nc.publish("bench.done", b"")

    async def service(msg: Any) -> None:
        await msg.respond(msg.data)

    big = 10_000_000
    await nc.subscribe("bench.start", cb=start)
    await nc.subscribe("bench.data", cb=data, pending_msgs_limit=big, pending_bytes_limit=1 << 30)
    await nc.subscribe(
        "bench.service", cb=service, pending_msgs_limit=big, pending_bytes_limit=1 << 30
    )
    await nc.flush()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await nc.close()


@contextmanager
def far(*args: str) -> Iterator[None]:
    """A far-side process of this module, once it printed ``ready``; ended when left."""
    with _far_all([args]):
        yield


@contextmanager
def _far_all(specs: Sequence[tuple[str, ...]]) -> Iterator[None]:
    """Far-side processes of this module, started together, once each printed ``ready``.

    Each is ended (its stdin closed) when the block is left, all at once.
    """
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for args in specs:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.remote_bench", "--serve", *args],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
            )
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line != b"ready\n":
                raise RuntimeError(f"the far process did not start: {line!r}")
        yield
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- trouper (Trio) ------------------------------------------------------------------------


class Collector(Actor):
    """Counts ``Done`` or ``Result`` messages and sets ``finished`` at ``expected``."""

    def __init__(self, finished: trio.Event, expected: int) -> None:
        self.finished = finished
        self.expected = expected
        self.count = 0

    async def receive(self, message: object) -> None:
        self.count += 1
        if self.count == self.expected:
            self.finished.set()


def _driver(prefix: str, url: str) -> AbstractAsyncContextManager[trouper.Runtime]:
    return trouper.open_runtime(
        node="driver", transport=Nats(url, prefix=prefix, heartbeat=5.0), mailbox_size=100_000
    )


async def _hear(rt: trouper.Runtime, *nodes: str) -> None:
    with trio.fail_after(30):
        while not set(nodes) <= set(cluster_of(rt).nodes()):  # noqa: ASYNC110 - other processes
            await trio.sleep(0.01)


def trouper_tell(url: str, n: int) -> float:
    prefix = f"b{next(_prefixes)}"

    async def main() -> float:
        async with _driver(prefix, url) as rt:
            await _hear(rt, "far")
            finished = trio.Event()
            collector = await rt.spawn(Collector, finished, 1)
            sink = rt.remote("far", "sink")
            await sink.tell(Start(n, collector))  # before the pings: one sender, in order
            start = perf_counter()
            for _ in range(n):
                await sink.tell(PING)
            with trio.fail_after(DEADLINE):
                await finished.wait()
            return n / (perf_counter() - start)

    with far("trouper", url, prefix, "far"):
        return trio.run(main)


def trouper_ask(url: str, n: int, concurrency: int = 1) -> float:
    prefix = f"b{next(_prefixes)}"

    async def main() -> float:
        async with _driver(prefix, url) as rt:
            await _hear(rt, "far")
            echo = rt.remote("far", "echo")
            await echo.ask(PING)
            answered = 0

            async def asker(count: int) -> None:
                nonlocal answered
                for _ in range(count):
                    await echo.ask(PING)
                    answered += 1

            start = perf_counter()
            with trio.fail_after(DEADLINE):
                async with trio.open_nursery() as nursery:
                    for share in shares(n, concurrency):
                        nursery.start_soon(asker, share)
            elapsed = perf_counter() - start
            check_count(answered, n)
            return n / elapsed

    with far("trouper", url, prefix, "far"):
        return trio.run(main)


def trouper_work(url: str, n: int, workers: int) -> float:
    prefix = f"b{next(_prefixes)}"
    names = [f"worker{i}" for i in range(workers)]

    async def main() -> float:
        async with _driver(prefix, url) as rt:
            await _hear(rt, *names)
            finished = trio.Event()
            collector = await rt.spawn(Collector, finished, n)
            start = perf_counter()
            for i in range(n):
                await rt.topics.publish("bench.jobs", Job(i, WORK, collector))
            with trio.fail_after(DEADLINE):
                await finished.wait()
            return n / (perf_counter() - start)

    with _far_all([("trouper", url, prefix, name, "worker") for name in names]):
        return trio.run(main)


# --- nats-py (asyncio) ---------------------------------------------------------------------


def nats_py_pubsub(url: str, n: int) -> float:
    import nats

    async def main() -> float:
        nc = await nats.connect(url)
        done = asyncio.Event()

        async def on_done(msg: Any) -> None:
            done.set()

        await nc.subscribe("bench.done", cb=on_done)
        await nc.flush()
        await nc.request("bench.start", str(n).encode(), timeout=10)
        start = perf_counter()
        for _ in range(n):
            await nc.publish("bench.data", PAYLOAD)
        await asyncio.wait_for(done.wait(), DEADLINE)
        elapsed = perf_counter() - start
        await nc.close()
        return n / elapsed

    with far("nats-py", url):
        return asyncio.run(main())


def nats_py_request(url: str, n: int, concurrency: int = 1) -> float:
    import nats

    async def main() -> float:
        nc = await nats.connect(url)
        await nc.request("bench.service", PAYLOAD, timeout=10)
        answered = 0

        async def asker(count: int) -> None:
            nonlocal answered
            for _ in range(count):
                await nc.request("bench.service", PAYLOAD, timeout=DEADLINE)
                answered += 1

        start = perf_counter()
        await asyncio.gather(*(asker(share) for share in shares(n, concurrency)))
        elapsed = perf_counter() - start
        await nc.close()
        check_count(answered, n)
        return n / elapsed

    with far("nats-py", url):
        return asyncio.run(main())


# --- the run --------------------------------------------------------------------------------


@attrs.frozen
class Workload:
    """One row: trouper against nats-py (``other`` None: trouper against itself)."""

    key: str
    name: str
    n: int
    unit: str
    trouper: Callable[[str, int], float]
    other: Callable[[str, int], float]
    other_name: str
    target: float | None


WORKLOADS = [
    Workload(
        "tell",
        "remote tell vs pub/sub",
        50_000,
        "msg/s",
        trouper_tell,
        nats_py_pubsub,
        "nats-py",
        0.8,
    ),
    Workload(
        "ask",
        "remote ask in sequence vs request",
        3_000,
        "req/s",
        trouper_ask,
        nats_py_request,
        "nats-py",
        1.0,
    ),
    Workload(
        "ask-32",
        f"{CONCURRENCY} concurrent asks vs requests",
        10_000,
        "req/s",
        lambda url, n: trouper_ask(url, n, CONCURRENCY),
        lambda url, n: nats_py_request(url, n, CONCURRENCY),
        "nats-py",
        0.8,
    ),
    Workload(
        "work",
        "CPU-bound work queue, 2 vs 1 worker processes",
        2_000,
        "job/s",
        lambda url, n: trouper_work(url, n, 2),
        lambda url, n: trouper_work(url, n, 1),
        "1 worker",
        None,
    ),
]


@attrs.frozen
class Row:
    """One workload's best sample on each side."""

    workload: Workload
    n: int
    other: float
    trouper: float

    @property
    def ratio(self) -> float:
        return self.trouper / self.other

    @property
    def result(self) -> str:
        target = self.workload.target
        if target is None:
            return "info"
        return "PASS" if self.ratio >= target else "MISS"


def run(workloads: Sequence[Workload], *, scale: float, repeat: int, quiet: bool) -> list[Row]:
    """Run each workload's sides interleaved ``repeat`` times; keep the best of each."""
    plan = [
        (w.key, max(1, int(w.n * scale)), [("trouper", w.trouper), (w.other_name, w.other)])
        for w in workloads
    ]
    with NatsServer(jetstream=False) as server:
        best = best_of_interleaved(plan, server.url, repeat=repeat, quiet=quiet)
    return [
        Row(w, n, other, trouper)
        for w, (_, n, _), (trouper, other) in zip(workloads, plan, best, strict=True)
    ]


def render(rows: Sequence[Row]) -> str:
    """The results as an aligned text table."""
    header = ("workload", "n", "unit", "against", "other", "trouper", "ratio", "target", "result")
    lines = [
        (
            row.workload.name,
            f"{row.n:,}",
            row.workload.unit,
            row.workload.other_name,
            f"{row.other:,.0f}",
            f"{row.trouper:,.0f}",
            f"{row.ratio:.2f}",
            "-" if row.workload.target is None else f">= {row.workload.target:.1f}x",
            row.result,
        )
        for row in rows
    ]
    out = format_table(header, lines, numeric={1, 4, 5, 6})
    out.append(
        "ratio = trouper / the other side's best; for work, the speed-up of 2 workers over 1."
    )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.remote_bench",
        description="Measure trouper.remote between processes against nats-py; print a table.",
    )
    add_run_options(parser)
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        if args.serve[0] == "nats-py":
            asyncio.run(serve_nats_py(args.serve[1]))
        else:
            url, prefix, node, *role = args.serve[1:]
            trio.run(serve_trouper, url, prefix, node, role[0] if role else "node")
        return 0
    return run_from_args(
        parser,
        args,
        WORKLOADS,
        quick_scale=0.02,
        key_width=8,
        measure=lambda workloads, scale: render(
            run(workloads, scale=scale, repeat=args.repeat, quiet=args.quiet)
        ),
        title=lambda scale: (
            f"trouper.remote vs nats-py, two processes, Python {sys.version.split()[0]}, "
            f"trio {trio.__version__}, {os.cpu_count()} CPUs, scale {scale:g}, "
            f"best of {args.repeat}"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
