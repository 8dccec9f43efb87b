"""Durable mailboxes on JetStream against nats-py: ``python -m bench.durable_js_bench``.

``python -m bench.durable_js_bench [--scale S] [--repeat N] [--sync always|default]``

Method: one ``nats-server`` from the venv is started for the run, JetStream in a
temporary directory, by default with ``sync_interval: always`` (the
configuration docs/durable.md asks for: every acknowledged write is on disk).
Each row is measured twice with the same shape, trouper under Trio and nats-py
under asyncio, in this one process, each sample in a fresh ``trio.run`` or
``asyncio.run``, the two sides interleaved (alternating which goes first) for
``--repeat`` rounds; the best sample of each side is kept (the machine is
shared). Only the work is timed, from the first message to the last ack.
Messages are a registered attrs class holding 64 bytes on trouper's side (so
the codec is in the row) and 64 raw bytes on nats-py's; every stream is a
file-stored work queue made fresh for the sample.

Rows:

- ``JetStream durable tell``: one sender, N ``await ref.tell(msg)`` in sequence
  to a durable mailbox (``durable_ref``, no host: each returns once the stream
  acknowledged it), against nats-py's ``await js.publish(...)`` in sequence.
- ``consume plus ack``: N messages stored beforehand; a durable actor handles
  and acks them all (its mailbox's long poll, default prefetch 512), against
  nats-py's ``fetch(100)`` on a durable pull consumer and ``ack()`` of each.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import attrs
import trio

import trouper
from bench.common import best_of_interleaved
from trouper.durable import Durable, JetStreamStore, durable_ref
from trouper.testing import NatsServer

PAYLOAD = b"x" * 64
_prefixes = itertools.count()


@trouper.message("bench.durable-js.payload")
@attrs.frozen
class Payload:
    """What every trouper row sends: 64 bytes in a registered attrs message."""

    data: bytes


MESSAGE = Payload(PAYLOAD)


def _prefix() -> str:
    return f"bench{next(_prefixes)}"


# --- trouper ---------------------------------------------------------------------


def trouper_tell(url: str, n: int) -> float:
    async def main() -> float:
        async with trouper.open_runtime(store=JetStreamStore(url, prefix=_prefix())) as rt:
            ref = durable_ref(rt, "sink", options=Durable(capacity=10_000_000))
            await ref.tell(MESSAGE)  # makes the stream
            start = perf_counter()
            for _ in range(n):
                await ref.tell(MESSAGE)
            return n / (perf_counter() - start)

    return trio.run(main)


class Counting(trouper.Actor):
    """Counts what it handles; sets ``done`` at ``n``."""

    def __init__(self, n: int, done: trio.Event) -> None:
        self.n = n
        self.done = done
        self.count = 0

    @trouper.handler
    async def payload(self, message: Payload) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()


def trouper_consume(url: str, n: int) -> float:
    async def main() -> float:
        store = JetStreamStore(url, prefix=_prefix())
        options = Durable(capacity=10_000_000)
        async with trouper.open_runtime(store=store) as rt:
            ref = durable_ref(rt, "work", options=options)
            for _ in range(n):
                ref.tell_nowait(MESSAGE)
            await rt.store.flush()
            done = trio.Event()
            start = perf_counter()
            await rt.spawn(Counting, n, done, name="work", mailbox=options)
            await done.wait()
            await rt.store.flush()  # every ack sent and processed
            elapsed = perf_counter() - start
            # Not timed: the server applies acks as it reads them; all of them must land.
            with trio.fail_after(60):
                for _ in itertools.count():
                    if not (await rt.store.mailbox_statistics())[0].depth:
                        break
                    await trio.sleep(0.05)
            return n / elapsed

    return trio.run(main)


# --- nats-py -----------------------------------------------------------------------


def nats_py_publish(url: str, n: int) -> float:
    from nats.js.api import RetentionPolicy

    import nats

    async def main() -> float:
        nc = await nats.connect(url)
        js = nc.jetstream()
        name = _prefix()
        await js.add_stream(name=name, subjects=[f"{name}.>"], retention=RetentionPolicy.WORK_QUEUE)
        start = perf_counter()
        for _ in range(n):
            await js.publish(f"{name}.x", PAYLOAD)
        rate = n / (perf_counter() - start)
        await js.delete_stream(name)
        await nc.close()
        return rate

    return asyncio.run(main())


def nats_py_consume(url: str, n: int) -> float:
    from nats.js.api import RetentionPolicy

    import nats

    async def main() -> float:
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=256)
        name = _prefix()
        await js.add_stream(name=name, subjects=[f"{name}.>"], retention=RetentionPolicy.WORK_QUEUE)
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
        rate = n / (perf_counter() - start)
        await js.delete_stream(name)
        await nc.close()
        return rate

    return asyncio.run(main())


# --- the run -------------------------------------------------------------------------


@attrs.frozen
class Row:
    """One row: a name, a size, a run function per side, the target ratio."""

    name: str
    n: int
    trouper: Callable[[str, int], float]
    nats_py: Callable[[str, int], float]
    target: float


def measure(row: Row, url: str, repeat: int) -> tuple[float, float]:
    """The best rate of trouper's side and of nats-py's, over ``repeat`` interleaved rounds."""
    sides = [("trouper", row.trouper), ("nats-py", row.nats_py)]
    [(best_t, best_n)] = best_of_interleaved(
        [(row.name, row.n, sides)], url, repeat=repeat, quiet=True
    )
    return best_t, best_n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durable_js_bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per row (best kept)")
    parser.add_argument(
        "--sync",
        choices=("always", "default"),
        default="always",
        help="the server's JetStream sync_interval (default: always, as docs/durable.md asks)",
    )
    args = parser.parse_args(argv)
    rows = [
        Row("JetStream durable tell", int(2_000 * args.scale), trouper_tell, nats_py_publish, 1.0),
        Row("consume plus ack", int(20_000 * args.scale), trouper_consume, nats_py_consume, 1.0),
    ]
    with tempfile.TemporaryDirectory(prefix="trouper-js-bench-") as directory:
        sync = ", sync_interval: always" if args.sync == "always" else ""
        config = f'jetstream {{ store_dir: "{Path(directory) / "js"}"{sync} }}'
        with NatsServer(jetstream=False, config=config) as server:
            print(f"nats-server {server.binary}, JetStream sync_interval: {args.sync}")
            print(f"{'row':<26} {'n':>7} {'trouper/s':>11} {'nats-py/s':>11} {'ratio':>6} target")
            failed = False
            for row in rows:
                ours, theirs = measure(row, server.url, args.repeat)
                ratio = ours / theirs
                failed |= ratio < row.target
                print(
                    f"{row.name:<26} {row.n:>7,} {ours:>11,.0f} {theirs:>11,.0f} "
                    f"{ratio:>6.2f} {row.target:.1f}",
                    flush=True,
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
