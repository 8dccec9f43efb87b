"""Kill -9 a durable pipeline at random instants; after the last restart, count what was lost.

``python -m bench.durable_kill [--kills 40] [--orders N] [--seed 1] [--json]``

The child process (``child`` sub-command) runs a three-actor durable pipeline
on one store file:

- ``source`` (durable state: the next order number) handles a ``Tick`` by
  telling ``orders`` the next batch of ``PlaceOrder`` messages and itself the
  next ``Tick``, all staged: they commit with its ack and its new state;
- ``orders`` turns each ``PlaceOrder`` into a ``Charge`` for ``billing``
  (staged, committed with its ack);
- ``billing`` counts each charge in its durable state (``applied[order] +=
  1``, the effect *inside* the store, committed with its ack), and appends
  the order id to a plain log file (the effect *outside* the store).

The parent starts the child, waits until it has started its actors, kills it
with SIGKILL after a random delay, and again, ``--kills`` times; then it lets
the child run to the end and reads the file: every order must be applied
exactly once inside the store, the store must pass SQLite's
``integrity_check``, and nothing may be left in a mailbox or the dead-letter
queue. Effects outside the store are at least once: the log may hold an
order twice (a kill between the log write and the ack's commit), which is
why such an effect must use the message's id as its idempotency key.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs
import msgpack  # type: ignore[import-untyped]
import trio

import trouper
from trouper.durable import Durable, SqliteStore

BATCH = 50
"""Orders the source tells per Tick."""


@trouper.message("kill.tick")
@attrs.frozen
class Tick:
    """Tells the source to send its next batch."""


@trouper.message("kill.place-order")
@attrs.frozen
class PlaceOrder:
    """One order of the run."""

    order_id: str


@trouper.message("kill.charge")
@attrs.frozen
class Charge:
    """Charge one order (billing applies it)."""

    order_id: str


@attrs.define
class Progress:
    """The source's durable state."""

    sent: int = 0


@attrs.define
class Applied:
    """Billing's durable state: how many times each order was applied."""

    applied: dict[str, int] = attrs.Factory(dict)


class Source(trouper.Actor):
    """Sends every order once: each batch commits with the source's progress."""

    state: Progress

    def __init__(self, orders: trouper.ActorRef[object], total: int) -> None:
        self.orders = orders
        self.total = total

    @trouper.handler
    async def tick(self, message: Tick) -> None:
        start = self.state.sent
        end = min(self.total, start + BATCH)
        for number in range(start, end):
            await self.orders.tell(PlaceOrder(f"o-{number}"))
        self.state.sent = end
        if end < self.total:
            await self.ctx.self_ref.tell(Tick())


class Orders(trouper.Actor):
    """Charges each order (the charge commits with this actor's ack)."""

    def __init__(self, billing: trouper.ActorRef[object]) -> None:
        self.billing = billing

    @trouper.handler
    async def place(self, message: PlaceOrder) -> None:
        await self.billing.tell(Charge(message.order_id))


class Billing(trouper.Actor):
    """Applies each charge in its durable state, and logs it to a file outside the store."""

    state: Applied

    def __init__(self, log: Path, total: int, done: trio.Event) -> None:
        self.log = log.open("a")
        self.total = total
        self.done = done

    async def on_start(self) -> None:
        if len(self.state.applied) >= self.total:
            self.done.set()

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        self.log.write(message.order_id + "\n")
        self.log.flush()  # in the kernel: a SIGKILL does not lose it
        applied = self.state.applied
        applied[message.order_id] = applied.get(message.order_id, 0) + 1
        if len(applied) >= self.total:
            self.done.set()


async def child(path: Path, log: Path, total: int) -> None:
    """Run the pipeline until every order is applied; print ``ready`` once the actors run."""
    options = Durable(max_deliveries=1000)
    done = trio.Event()
    async with trouper.open_runtime(store=SqliteStore(path)) as rt:
        billing = await rt.spawn(Billing, log, total, done, name="billing", mailbox=options)
        orders = await rt.spawn(Orders, billing, name="orders", mailbox=options)
        source = await rt.spawn(
            Source, orders, total, name="source", mailbox=Durable(dedup_window=None)
        )
        print("ready", flush=True)
        await source.tell(Tick(), msg_id="start")  # once for good: the dedup id is kept
        await done.wait()
    print("done", flush=True)


# --- the parent ------------------------------------------------------------------------


def _start(path: Path, log: Path, total: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.durable_kill", "child", str(path), str(log), str(total)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _wait_for_line(process: subprocess.Popen[str], expected: str, timeout: float) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            process.kill()
            raise TimeoutError(f"the child did not print {expected!r} within {timeout} s")
        ready, _, _ = select.select([process.stdout], [], [], left)
        if ready:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the child exited ({process.wait()}) before {expected!r}")
            if line.strip() == expected:
                return


def _applied(path: Path) -> int:
    """How many orders billing has applied, as committed (read-only)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT data FROM states WHERE key = 'billing'").fetchone()
    except sqlite3.OperationalError:  # no tables yet: killed before the store was made
        return 0
    finally:
        connection.close()
    return len(msgpack.unpackb(row[0])["applied"]) if row else 0


def check(path: Path, log: Path, total: int) -> dict[str, object]:
    """Read the store and the log after the last run: the figures of the test."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        row = connection.execute("SELECT data FROM states WHERE key = 'billing'").fetchone()
        applied: dict[str, int] = msgpack.unpackb(row[0])["applied"] if row else {}
        left = connection.execute("SELECT count(*) FROM messages").fetchone()[0]
        dead = connection.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    finally:
        connection.close()
    expected = {f"o-{n}" for n in range(total)}
    logged = collections.Counter(log.read_text().split())
    return {
        "orders": total,
        "lost": len(expected - set(applied)),
        "applied_twice_in_store": sum(1 for count in applied.values() if count > 1),
        "unknown_in_store": len(set(applied) - expected),
        "left_in_mailboxes": left,
        "dead_letters": dead,
        "integrity_check": integrity,
        "outside_effects": sum(logged.values()),
        "outside_applied_twice": sum(1 for count in logged.values() if count > 1),
        "outside_missing": len(expected - set(logged)),
    }


def run(
    kills: int, total: int, seed: int, directory: Path, final_timeout: float = 120.0
) -> dict[str, object]:
    """Kill the child ``kills`` times, let it finish, and return the figures."""
    rng = random.Random(seed)
    path, log = directory / "kill.db", directory / "effects.log"
    started = time.monotonic()
    delays = []
    progress: list[int] = []
    for _ in range(kills):
        process = _start(path, log, total)
        _wait_for_line(process, "ready", 60)
        delay = rng.uniform(0.0, 0.4)
        delays.append(delay)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        progress.append(_applied(path))
    process = _start(path, log, total)
    try:
        _wait_for_line(process, "done", final_timeout)
        finished = True
    except TimeoutError:  # some order never arrives: the figures say which were lost
        finished = False
    process.wait(timeout=30)
    figures = check(path, log, total)
    figures["finished"] = finished
    figures.update(
        kills=kills,
        seed=seed,
        kill_delays_s=[round(d, 3) for d in delays],
        applied_after_each_kill=progress,
        seconds=round(time.monotonic() - started, 2),
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durable_kill", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    child_parser = commands.add_parser("child", help="run the pipeline (the parent starts it)")
    child_parser.add_argument("store", type=Path)
    child_parser.add_argument("log", type=Path)
    child_parser.add_argument("total", type=int)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument(
        "--orders", type=int, help="orders in the run (default 800 per kill: kills land mid-run)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="where the files go (default: a temp dir)")
    parser.add_argument(
        "--final-timeout", type=float, default=120.0, help="seconds the last run may take"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.command == "child":
        trio.run(child, args.store, args.log, args.total)
        return 0
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="durable-kill-") as directory:
        total = args.orders if args.orders is not None else 800 * max(1, args.kills)
        figures = run(args.kills, total, args.seed, Path(directory), args.final_timeout)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:<24} {value}")
    ok = (
        figures["finished"] is True
        and figures["lost"] == 0
        and figures["applied_twice_in_store"] == 0
        and figures["integrity_check"] == "ok"
        and figures["left_in_mailboxes"] == 0
        and figures["dead_letters"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
