"""Benchmark the asyncio bridge: ``python -m bench.aio_bench [--quick] [--repeat N] [--json PATH]``.

Method. In-process rows run the same workload twice, with the same actor
(``bench.trouper_side.Counter``) and messages: natively, from a Trio task of a
``trouper.open_runtime`` (the functions of ``bench.trouper_side``), and through
the bridge, from an asyncio task of a ``trouper.aio.open_runtime`` in
``asyncio.run``. Each sample is a fresh run; the sides are interleaved and the
best of ``--repeat`` kept (``bench.runner.run``), and the ratio is bridge /
native. Only the work is timed, from the first call to the moment the actor
has handled the last message.

The HTTP row serves one Starlette endpoint from uvicorn in a child process on
a loopback socket, in two versions: ``/count`` asking a ``Counter`` actor per
request through the bridge (the runtime opened in the app's lifespan), and the
same endpoint computing the count inline, in an app with no runtime at all.
Load comes from ``wrk`` (C, one thread, 50 connections, keep-alive) when it is
installed (``apt-get install wrk``), otherwise from a minimal asyncio client
in another process (50 keep-alive connections, one request in flight on each),
which is slower than wrk and so may understate the gap; the table says which.
Servers get a short warm-up; runs alternate between the two servers and the
best of ``--repeat`` is kept.

``--profile`` runs the sequential ask through the bridge under pyinstrument
and prints where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

import attrs
import trio
import trio.testing
from starlette.applications import Starlette
from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

import trouper
import trouper.aio
from bench import trouper_side
from bench.common import MAILBOX_SIZE, PING, Sample, Tally, rate
from bench.runner import Row, meta, run
from bench.trouper_side import Counter
from bench.workloads import Target, Workload

__all__ = ["actor_app", "inline_app", "main"]

ROOT = Path(__file__).resolve().parents[1]
CONCURRENT_ASKERS = 100
"""Tasks asking at once in the concurrent ask row."""
HTTP_CONNECTIONS = 50
"""Connections the HTTP load generator keeps busy."""


# --- the bridge's side of each in-process workload -------------------------------


Body = Callable[[trouper.aio.AioRuntime, Tally, int], Coroutine[Any, Any, float]]
"""A bridged workload: given the runtime, the tally and ``n``, do the work; return its rate."""


def _bridged(body: Body) -> Callable[[int], Sample]:
    """Make ``fn(n)``: run ``body(rt, tally, n)`` in a fresh ``asyncio.run``."""

    def sample(n: int) -> Sample:
        async def main() -> Sample:
            tally = Tally(n)
            async with trouper.aio.open_runtime(mailbox_size=MAILBOX_SIZE) as rt:
                value = await body(rt, tally, n)
            return Sample(value, tally.count)

        return asyncio.run(main())

    return sample


async def _ask_in_sequence(rt: trouper.aio.AioRuntime, tally: Tally, n: int) -> float:
    ref = await rt.spawn(Counter, tally)
    start = perf_counter()
    for _ in range(n):
        await ref.ask(PING)
    return rate(n, start)


async def _ask_concurrently(rt: trouper.aio.AioRuntime, tally: Tally, n: int) -> float:
    ref = await rt.spawn(Counter, tally)

    async def asker(count: int) -> None:
        for _ in range(count):
            await ref.ask(PING)

    start = perf_counter()
    await asyncio.gather(*(asker(count) for count in _shares(n, CONCURRENT_ASKERS)))
    return rate(n, start)


async def _tell_in_bursts(rt: trouper.aio.AioRuntime, tally: Tally, n: int) -> float:
    ref = await rt.spawn(Counter, tally)
    start = perf_counter()
    for _ in range(n):
        try:
            ref.tell_nowait(PING)
        except trouper.MailboxFull:
            await ref.tell(PING)
    await rt.run(tally.done.wait)
    return rate(n, start)


async def _tell_each(rt: trouper.aio.AioRuntime, tally: Tally, n: int) -> float:
    ref = await rt.spawn(Counter, tally)
    start = perf_counter()
    for _ in range(n):
        await ref.tell(PING)
    await rt.run(tally.done.wait)
    return rate(n, start)


def _shares(n: int, parts: int) -> list[int]:
    """``n`` split into ``min(parts, n)`` near-equal positive shares."""
    parts = max(1, min(parts, n))
    return [n // parts + (i < n % parts) for i in range(parts)]


def native_concurrent_ask(n: int) -> Sample:
    """``CONCURRENT_ASKERS`` Trio tasks share ``n`` asks to one actor."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            ref = await runtime.spawn(Counter, tally)

            async def asker(count: int) -> None:
                for _ in range(count):
                    await ref.ask(PING)

            await trio.testing.wait_all_tasks_blocked()
            start = perf_counter()
            async with trio.open_nursery() as nursery:
                for count in _shares(n, CONCURRENT_ASKERS):
                    nursery.start_soon(asker, count)
            value = rate(n, start)
        return Sample(value, tally.count)

    return trio.run(main)


WORKLOADS = [
    Workload(
        "ask",
        "ask: round trips in sequence",
        20_000,
        "ask/s",
        trouper_side.ask,
        _bridged(_ask_in_sequence),
        Target(0.5),
        baseline="native",
    ),
    Workload(
        "ask_many",
        f"ask: {CONCURRENT_ASKERS} tasks asking at once",
        50_000,
        "ask/s",
        native_concurrent_ask,
        _bridged(_ask_concurrently),
        None,
        baseline="native",
    ),
    Workload(
        "tell_nowait",
        "tell: tell_nowait bursts, 1 -> 1",
        200_000,
        "msg/s",
        trouper_side.tell_nowait,
        _bridged(_tell_in_bursts),
        Target(0.5),
        baseline="native",
    ),
    Workload(
        "tell",
        "tell: await tell, 1 -> 1",
        50_000,
        "msg/s",
        trouper_side.tell,
        _bridged(_tell_each),
        None,
        baseline="native",
    ),
]
"""The in-process rows: native trouper (Trio) against the bridge (asyncio)."""


# --- the HTTP row ------------------------------------------------------------------

_inline_count = 0


async def _count_inline(request: HTTPRequest) -> JSONResponse:
    global _inline_count
    _inline_count += 1
    return JSONResponse({"n": _inline_count})


inline_app = Starlette(routes=[Route("/count", _count_inline)])
"""The baseline: the endpoint computes its answer itself; no runtime anywhere."""


@asynccontextmanager
async def _runtime(app: Starlette) -> AsyncIterator[dict[str, object]]:
    async with trouper.aio.open_runtime(mailbox_size=MAILBOX_SIZE) as rt:
        yield {"counter": await rt.spawn(Counter, Tally(-1))}


async def _count_by_actor(request: HTTPRequest) -> JSONResponse:
    return JSONResponse({"n": await request.state.counter.ask(PING)})


actor_app = Starlette(routes=[Route("/count", _count_by_actor)], lifespan=_runtime)
"""The same endpoint asking a ``Counter`` actor per request, through the bridge."""

_LAUNCH = """
import socket, uvicorn
config = uvicorn.Config({app!r}, log_level="warning", access_log=False)
uvicorn.Server(config).run(sockets=[socket.socket(fileno={fd})])
"""


@contextmanager
def _server(app: str) -> Iterator[str]:
    """Serve ``bench.aio_bench:<app>`` from uvicorn in a child process; yield its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    code = _LAUNCH.format(app=f"bench.aio_bench:{app}", fd=listener.fileno())
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, pass_fds=(listener.fileno(),)
    )
    listener.close()
    url = f"http://{host}:{port}/count"
    try:
        # The first request waits in the socket's backlog until the server is up.
        with urllib.request.urlopen(url, timeout=60) as first:
            first.read()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@attrs.frozen
class Load:
    """What one load-generator run measured."""

    rate: float
    """Requests answered per second."""
    requests: int
    """Requests answered with a 2xx."""
    failures: int
    """Requests that failed: socket errors, timeouts, non-2xx answers."""


def _wrk(url: str, seconds: float) -> Load:
    done = subprocess.run(
        ["wrk", "-t1", f"-c{HTTP_CONNECTIONS}", f"-d{max(1, round(seconds))}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    failures = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failures += int(non2xx.group(1)) if non2xx else 0
    value = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Load(value, requests - failures, failures)


def _socket_load(url: str, seconds: float) -> Load:
    """Keep ``HTTP_CONNECTIONS`` connections busy for ``seconds`` from a child process."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.aio_bench", "_load", url, str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    value, requests, failures = json.loads(done.stdout)
    return Load(value, requests, failures)


async def _load(url: str, seconds: float) -> tuple[float, int, int]:
    """The fallback load generator: asyncio streams, one request in flight per connection.

    A minimal HTTP/1.1 client (GET, keep-alive, ``Content-Length`` bodies), as
    a full Python client such as httpx spends more time per request than
    uvicorn does and would measure itself.
    """
    parts = urllib.parse.urlsplit(url)
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    counts = [0, 0]
    deadline = perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while perf_counter() < deadline:
                writer.write(request)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                counts[0 if status.split()[1:2] == [b"200"] else 1] += 1
        finally:
            writer.close()

    start = perf_counter()
    await asyncio.gather(*(connection() for _ in range(HTTP_CONNECTIONS)))
    return counts[0] / (perf_counter() - start), counts[0], counts[1]


def http_row(
    *, seconds: float, repeat: int, warm_up: bool, progress: Callable[[str], None]
) -> tuple[Row, str]:
    """Measure the endpoint inline and through an actor; return the row and the generator."""
    generator = "wrk" if shutil.which("wrk") else "asyncio sockets"
    measure = _wrk if generator == "wrk" else _socket_load
    samples: dict[str, list[Sample]] = {"inline_app": [], "actor_app": []}
    with _server("inline_app") as inline_url, _server("actor_app") as actor_url:
        urls = {"inline_app": inline_url, "actor_app": actor_url}
        for url in urls.values():
            if warm_up:
                measure(url, 1)  # imports, first requests, CPU caches
        for rep in range(repeat):
            order = list(urls) if rep % 2 == 0 else list(reversed(urls))
            for app in order:
                progress(f"[{rep + 1}/{repeat}] http {app} ({generator}, {seconds:g} s)")
                load = measure(urls[app], seconds)
                if load.failures:
                    raise RuntimeError(f"{app}: {load.failures} failed requests under load")
                samples[app].append(Sample(load.rate, load.requests))
    workload = Workload(
        "http",
        f"HTTP GET asking an actor, {HTTP_CONNECTIONS} connections",
        0,
        "req/s",
        _never,
        _never,
        None,
        baseline="inline",
    )
    row = Row(workload, 0, tuple(samples["inline_app"]), tuple(samples["actor_app"]))
    return row, generator


def _never(n: int) -> Sample:
    raise AssertionError("the HTTP row is measured by http_row")


# --- the table ---------------------------------------------------------------------


def render(rows: Sequence[Row], out: Any) -> None:
    """Write an aligned table: baseline side, bridge side, their ratio and the target."""
    header = (
        "workload",
        "n",
        "unit",
        "baseline",
        "baseline",
        "trouper.aio",
        "ratio",
        "target",
        "result",
    )
    lines = [
        (
            row.workload.name,
            f"{row.n:,}" if row.n else "-",
            row.workload.unit,
            row.workload.baseline,
            f"{row.best_raw:,.0f}",
            f"{row.best_trouper:,.0f}",
            f"{row.ratio:.2f}",
            "-" if row.workload.target is None else str(row.workload.target),
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in (header, *lines)) for i in range(len(header))]
    numeric = {1, 4, 5, 6}
    for cells in (header, *lines):
        out.write(
            "  ".join(
                cell.rjust(width) if i in numeric else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
            + "\n"
        )


def profile(n: int) -> None:
    """Run the sequential bridged ask under pyinstrument and print where the time goes."""
    import pyinstrument

    async def main() -> None:
        async with trouper.aio.open_runtime(mailbox_size=MAILBOX_SIZE) as rt:
            ref = await rt.spawn(Counter, Tally(n))
            with pyinstrument.Profiler(async_mode="disabled") as profiler:
                for _ in range(n):
                    await ref.ask(PING)
        print(profiler.output_text(unicode=False, color=False, short_mode=True, show_all=False))

    asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bridge's benchmarks from the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.aio_bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="rounds per side (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, 1 s HTTP runs, no warm-up"
    )
    parser.add_argument("--http-seconds", type=float, default=5.0, help="per HTTP run")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP row")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--profile", action="store_true", help="profile the bridged ask")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.profile:
        profile(2_000 if args.quick else 20_000)
        return 0

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    scale = 0.01 if args.quick else 1.0
    rows = run(WORKLOADS, scale=scale, repeat=args.repeat, progress=progress)
    generator = "-"
    if not args.no_http:
        seconds = 1.0 if args.quick else args.http_seconds
        row, generator = http_row(
            seconds=seconds, repeat=args.repeat, warm_up=not args.quick, progress=progress
        )
        rows.append(row)
    info = meta(scale=scale, repeat=args.repeat) | {"http_load": generator}
    print(
        f"trouper {info['trouper']} (trouper.aio, Trio guest on asyncio) vs native trouper on "
        f"trio {info['trio']}, Python {info['python']}, {info['cpus']} CPUs, best of "
        f"{args.repeat}, HTTP load from {generator}\n"
    )
    render(rows, sys.stdout)
    print(
        "\nbaseline = native: the same workload from a Trio task of trouper.open_runtime;"
        "\nbaseline = inline: the same endpoint computing its answer, with no runtime at all."
    )
    if args.json is not None:
        data = {
            "meta": info,
            "rows": [
                {
                    "key": row.workload.key,
                    "name": row.workload.name,
                    "unit": row.workload.unit,
                    "baseline": row.best_raw,
                    "aio": row.best_trouper,
                    "ratio": row.ratio,
                    "target": None if row.workload.target is None else str(row.workload.target),
                    "samples": {
                        "baseline": [attrs.asdict(s) for s in row.raw],
                        "aio": [attrs.asdict(s) for s in row.trouper],
                    },
                }
                for row in rows
            ],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_load"]:
        print(json.dumps(asyncio.run(_load(sys.argv[2], float(sys.argv[3])))))
    else:
        sys.exit(main())
