"""Benchmark trouper's NATS client against nats-py: ``python -m bench.nats_client [--quick]``.

Method: one ``nats-server`` (from the venv, JetStream off) is started for the
run. Each workload is written twice with the same shape, once with
``trouper.nats`` under Trio and once with nats-py under asyncio; both run in
this one process, each sample in a fresh ``trio.run`` or ``asyncio.run`` (so
the two event loops never share a thread at once), the two sides interleaved
(alternating which goes first) for ``--repeat`` rounds; the best sample of each
side is kept. Only the work is timed (``time.perf_counter``), from the first
publish to the moment the last message (or reply) has been received; connecting
and closing are not.

Workloads:

- ``pubsub-cb``: one connection publishes N messages of 100 bytes, a second
  connection's subscription receives them all through a callback (trouper: a
  plain function called by the reader task; nats-py: its ``cb=`` coroutine).
- ``pubsub-iter``: the same, read with ``async for`` (nats-py: ``sub.messages``).
- ``request``: N requests in sequence to a responder on a second connection
  (trouper's responder is a callback that answers with ``respond_nowait``,
  nats-py's a ``cb=`` coroutine that awaits ``msg.respond``).
- ``request-32``: the same N requests made by 32 concurrent tasks.
- ``js-publish``: N JetStream publishes in sequence, each waiting for its ack
  (a fresh file-stored stream per sample).
- ``js-pipeline``: N JetStream publishes with at most 256 unacknowledged
  (trouper: ``publish_pipeline``; nats-py: ``publish_async`` with
  ``publish_async_max_pending=256`` then ``publish_async_completed``).
- ``js-consume``: N stored messages pulled in batches of 100 by a durable pull
  consumer, each acked (``fetch`` + ``ack`` on both sides), until all are taken.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

import attrs
import trio

from bench.common import (
    add_run_options,
    best_of_interleaved,
    check_count,
    format_table,
    run_from_args,
    shares,
)
from trouper import nats as tnats
from trouper.testing._nats_server import NatsServer

PAYLOAD = b"x" * 100
SUBJECT = "bench.data"
SERVICE = "bench.service"
CONCURRENCY = 32
DEADLINE = 120.0
"""Seconds a sample may take before the benchmark gives up on it."""


@attrs.frozen
class Workload:
    """One row of the table: a name, a size, and a run function per side."""

    key: str
    name: str
    n: int
    unit: str
    trouper: Callable[[str, int], float]
    nats_py: Callable[[str, int], float]
    target: float
    """The lowest acceptable trouper / nats-py ratio."""


# --- trouper (Trio) --------------------------------------------------------


def trouper_pubsub_cb(url: str, n: int) -> float:
    async def main() -> float:
        async with tnats.connect(url) as pub, tnats.connect(url) as sub_conn:
            done = trio.Event()
            count = 0

            def on_msg(msg: tnats.Msg) -> None:
                nonlocal count
                count += 1
                if count == n:
                    done.set()

            await sub_conn.subscribe(SUBJECT, callback=on_msg)
            await sub_conn.flush()
            start = perf_counter()
            for _ in range(n):
                await pub.publish(SUBJECT, PAYLOAD)
            with trio.fail_after(DEADLINE):
                await done.wait()
            elapsed = perf_counter() - start
            check_count(count, n)
            return n / elapsed

    return trio.run(main)


def trouper_pubsub_iter(url: str, n: int) -> float:
    async def main() -> float:
        async with tnats.connect(url) as pub, tnats.connect(url) as sub_conn:
            sub = await sub_conn.subscribe(SUBJECT, max_msgs=n, pending_msgs_limit=n)
            await sub_conn.flush()
            count = 0
            async with trio.open_nursery() as nursery:
                start = perf_counter()

                async def publisher() -> None:
                    for _ in range(n):
                        await pub.publish(SUBJECT, PAYLOAD)

                nursery.start_soon(publisher)
                with trio.fail_after(DEADLINE):
                    async for _ in sub:
                        count += 1
                elapsed = perf_counter() - start
            check_count(count, n)
            return n / elapsed

    return trio.run(main)


def trouper_request(url: str, n: int, concurrency: int = 1) -> float:
    async def main() -> float:
        async with tnats.connect(url) as client, tnats.connect(url) as server:
            await server.subscribe(SERVICE, callback=lambda m: m.respond_nowait(m.data))
            await server.flush()
            await client.request(SERVICE, PAYLOAD)
            answered = 0

            async def asker(count: int) -> None:
                nonlocal answered
                for _ in range(count):
                    await client.request(SERVICE, PAYLOAD)
                    answered += 1

            start = perf_counter()
            with trio.fail_after(DEADLINE):
                async with trio.open_nursery() as nursery:
                    for share in shares(n, concurrency):
                        nursery.start_soon(asker, share)
            elapsed = perf_counter() - start
            check_count(answered, n)
            return n / elapsed

    return trio.run(main)


# --- nats-py (asyncio) -------------------------------------------------------


def nats_py_pubsub_cb(url: str, n: int) -> float:
    import nats

    async def main() -> float:
        pub = await nats.connect(url)
        sub_conn = await nats.connect(url)
        done = asyncio.Event()
        count = 0

        async def on_msg(msg: object) -> None:
            nonlocal count
            count += 1
            if count == n:
                done.set()

        await sub_conn.subscribe(
            SUBJECT, cb=on_msg, pending_msgs_limit=n + 1, pending_bytes_limit=1 << 30
        )
        await sub_conn.flush()
        start = perf_counter()
        for _ in range(n):
            await pub.publish(SUBJECT, PAYLOAD)
        await asyncio.wait_for(done.wait(), DEADLINE)
        elapsed = perf_counter() - start
        await pub.close()
        await sub_conn.close()
        check_count(count, n)
        return n / elapsed

    return asyncio.run(main())


def nats_py_pubsub_iter(url: str, n: int) -> float:
    import nats

    async def main() -> float:
        pub = await nats.connect(url)
        sub_conn = await nats.connect(url)
        sub = await sub_conn.subscribe(
            SUBJECT, pending_msgs_limit=n + 1, pending_bytes_limit=1 << 30
        )
        await sub_conn.flush()
        count = 0

        async def reader() -> None:
            nonlocal count
            async for _ in sub.messages:
                count += 1
                if count == n:
                    return

        reading = asyncio.ensure_future(reader())
        # Let the reader start iterating first: nats-py's iterator sometimes
        # stalls when messages were queued before its first __anext__.
        await asyncio.sleep(0)
        start = perf_counter()
        for _ in range(n):
            await pub.publish(SUBJECT, PAYLOAD)
        await asyncio.wait_for(reading, DEADLINE)
        elapsed = perf_counter() - start
        await pub.close()
        await sub_conn.close()
        check_count(count, n)
        return n / elapsed

    return asyncio.run(main())


async def _first_request(client: Any) -> None:
    """nats-py's first request, tried again while the server answers "no responders".

    About one run in five here, that first request fails with
    ``NoRespondersError`` although the responder's subscription was flushed
    (right after the trouper side's sample closed its connections; nats-py's
    side alone, cause not found). The timed requests are not affected.
    """
    import nats

    for _ in range(100):
        try:
            await client.request(SERVICE, PAYLOAD, timeout=DEADLINE)
        except nats.errors.NoRespondersError:
            await asyncio.sleep(0.01)
        else:
            return
    raise RuntimeError("nats-py's responder never answered its first request")


def nats_py_request(url: str, n: int, concurrency: int = 1) -> float:
    import nats

    async def main() -> float:
        client = await nats.connect(url)
        server = await nats.connect(url)

        async def respond(msg: Any) -> None:
            await msg.respond(msg.data)

        await server.subscribe(SERVICE, cb=respond)
        await server.flush()
        # One request before the clock starts, as on trouper's side: nats-py
        # makes its reply subscription on the first request, and concurrent
        # first requests race it.
        await _first_request(client)
        answered = 0

        async def asker(count: int) -> None:
            nonlocal answered
            for _ in range(count):
                await client.request(SERVICE, PAYLOAD, timeout=DEADLINE)
                answered += 1

        start = perf_counter()
        await asyncio.gather(*(asker(share) for share in shares(n, concurrency)))
        elapsed = perf_counter() - start
        await client.close()
        await server.close()
        check_count(answered, n)
        return n / elapsed

    return asyncio.run(main())


# --- JetStream --------------------------------------------------------------------

_streams = iter(range(10**9))


def _stream_name() -> str:
    return f"BENCH{next(_streams)}"


def trouper_js_publish(url: str, n: int, pipelined: bool = False) -> float:
    async def main() -> float:
        async with tnats.connect(url) as nc:
            js = nc.jetstream()
            name = _stream_name()
            await js.add_stream(tnats.StreamConfig(name, subjects=[f"{name}.>"]))
            subject = f"{name}.x"
            start = perf_counter()
            if pipelined:
                async with js.publish_pipeline(max_in_flight=256) as pipe:
                    for _ in range(n):
                        await pipe.publish(subject, PAYLOAD)
                acked = len(pipe.acks)
            else:
                acked = 0
                for _ in range(n):
                    await js.publish(subject, PAYLOAD)
                    acked += 1
            elapsed = perf_counter() - start
            await js.delete_stream(name)
            check_count(acked, n)
            return n / elapsed

    return trio.run(main)


def trouper_js_consume(url: str, n: int) -> float:
    async def main() -> float:
        async with tnats.connect(url) as nc:
            js = nc.jetstream()
            name = _stream_name()
            await js.add_stream(tnats.StreamConfig(name, subjects=[f"{name}.>"]))
            async with js.publish_pipeline(max_in_flight=256) as pipe:
                for _ in range(n):
                    await pipe.publish(f"{name}.x", PAYLOAD)
            consumer = await js.pull_subscribe(name, "bench")
            taken = 0
            start = perf_counter()
            with trio.fail_after(DEADLINE):
                while taken < n:
                    for msg in await consumer.fetch(100, expires=5):
                        await msg.ack()
                        taken += 1
            await nc.flush()
            elapsed = perf_counter() - start
            await js.delete_stream(name)
            check_count(taken, n)
            return n / elapsed

    return trio.run(main)


def nats_py_js_publish(url: str, n: int, pipelined: bool = False) -> float:
    import nats

    async def main() -> float:
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=256)
        name = _stream_name()
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        subject = f"{name}.x"
        start = perf_counter()
        acked = 0
        if pipelined:
            for _ in range(n):
                await js.publish_async(subject, PAYLOAD)
                acked += 1
            await js.publish_async_completed()
        else:
            for _ in range(n):
                await js.publish(subject, PAYLOAD)
                acked += 1
        elapsed = perf_counter() - start
        await js.delete_stream(name)
        await nc.close()
        check_count(acked, n)
        return n / elapsed

    return asyncio.run(main())


def nats_py_js_consume(url: str, n: int) -> float:
    import nats

    async def main() -> float:
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=256)
        name = _stream_name()
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        for _ in range(n):
            await js.publish_async(f"{name}.x", PAYLOAD)
        await js.publish_async_completed()
        psub = await js.pull_subscribe(f"{name}.>", "bench", stream=name)
        taken = 0
        start = perf_counter()
        while taken < n:
            for msg in await psub.fetch(100, timeout=5):
                await msg.ack()
                taken += 1
        await nc.flush()
        elapsed = perf_counter() - start
        await js.delete_stream(name)
        await nc.close()
        check_count(taken, n)
        return n / elapsed

    return asyncio.run(main())


# --- the run ----------------------------------------------------------------------


WORKLOADS = [
    Workload(
        "pubsub-cb",
        "pub/sub, callback subscriber",
        200_000,
        "msg/s",
        trouper_pubsub_cb,
        nats_py_pubsub_cb,
        1.0,
    ),
    Workload(
        "pubsub-iter",
        "pub/sub, async-for subscriber",
        200_000,
        "msg/s",
        trouper_pubsub_iter,
        nats_py_pubsub_iter,
        1.0,
    ),
    Workload(
        "request",
        "request/reply in sequence",
        10_000,
        "req/s",
        trouper_request,
        nats_py_request,
        1.0,
    ),
    Workload(
        "request-32",
        f"request/reply, {CONCURRENCY} concurrent",
        10_000,
        "req/s",
        lambda url, n: trouper_request(url, n, CONCURRENCY),
        lambda url, n: nats_py_request(url, n, CONCURRENCY),
        1.0,
    ),
    Workload(
        "js-publish",
        "JetStream publish, ack each",
        5_000,
        "msg/s",
        trouper_js_publish,
        nats_py_js_publish,
        1.0,
    ),
    Workload(
        "js-pipeline",
        "JetStream publish, 256 in flight",
        20_000,
        "msg/s",
        lambda url, n: trouper_js_publish(url, n, pipelined=True),
        lambda url, n: nats_py_js_publish(url, n, pipelined=True),
        1.0,
    ),
    Workload(
        "js-consume",
        "JetStream pull 100 + ack each",
        20_000,
        "msg/s",
        trouper_js_consume,
        nats_py_js_consume,
        1.0,
    ),
]


@attrs.frozen
class Row:
    """One workload's best sample on each side."""

    workload: Workload
    n: int
    nats_py: float
    trouper: float

    @property
    def ratio(self) -> float:
        return self.trouper / self.nats_py

    @property
    def result(self) -> str:
        return "PASS" if self.ratio >= self.workload.target else "MISS"


def run(
    workloads: Sequence[Workload], *, scale: float, repeat: int, quiet: bool = False
) -> list[Row]:
    """Run each workload's sides interleaved ``repeat`` times; keep the best of each."""
    plan = [
        (w.key, max(1, int(w.n * scale)), [("trouper", w.trouper), ("nats-py", w.nats_py)])
        for w in workloads
    ]
    with NatsServer() as server:
        best = best_of_interleaved(plan, server.url, repeat=repeat, quiet=quiet)
    return [
        Row(w, n, nats_py, trouper)
        for w, (_, n, _), (trouper, nats_py) in zip(workloads, plan, best, strict=True)
    ]


def render(rows: Sequence[Row]) -> str:
    """The results as an aligned text table."""
    header = ("workload", "n", "unit", "nats-py", "trouper", "ratio", "target", "result")
    lines = [
        (
            row.workload.name,
            f"{row.n:,}",
            row.workload.unit,
            f"{row.nats_py:,.0f}",
            f"{row.trouper:,.0f}",
            f"{row.ratio:.2f}",
            f">= {row.workload.target:.1f}x",
            row.result,
        )
        for row in rows
    ]
    out = format_table(header, lines, numeric={1, 3, 4, 5})
    out.append("ratio = trouper / nats-py of the best of each side; higher is better.")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.nats_client",
        description="Measure trouper.nats against nats-py on asyncio; print a table.",
    )
    add_run_options(parser)
    args = parser.parse_args(argv)
    return run_from_args(
        parser,
        args,
        WORKLOADS,
        quick_scale=0.01,
        key_width=12,
        measure=lambda workloads, scale: render(
            run(workloads, scale=scale, repeat=args.repeat, quiet=args.quiet)
        ),
        title=lambda scale: (
            f"trouper.nats vs nats-py, Python {sys.version.split()[0]}, trio {trio.__version__}, "
            f"scale {scale:g}, best of {args.repeat}"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
