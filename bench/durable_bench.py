"""Durable messaging through actors against raw ``sqlite3`` and Python's SQLite queues.

``python -m bench.durable_bench [--scale S] [--dir PATH] [--synchronous full|normal] [--repeat N]``

Method: every row runs in this process on files in one directory (by
default a temporary one on the file system of the working directory), in
WAL mode at the same ``synchronous`` level. The raw baselines come first,
stdlib ``sqlite3`` on the calling thread with the tightest loop it allows
(``executemany`` for batches). Then trouper's rows, through actors: a
runtime with ``open_runtime(store=SqliteStore(path))``, durable actors
(``mailbox=Durable()``), messages a registered attrs class holding 64 bytes
(so the codec is in every row), each row against the baseline it is
measured by, the two interleaved (alternating which runs first) for
``--repeat`` rounds, the best of each kept. Then the peers (litequeue,
huey's ``SqliteStorage``). The machine is shared: best-of-N is the figure.

The four rows measured against raw ``sqlite3`` also run the row's shape in
raw Trio (the "raw Trio" column, in the same rounds): Trio tasks and one
writer thread on raw ``sqlite3``, as the issue prescribes, with nothing of
trouper's; its ratio to the baseline is the most a Trio program reached here
with that design, so it tells a target this machine cannot meet from the
framework's own cost (trouper's rate against it).

Each row prints its rate and, since this machine's disk alternates between
fast ``fsync`` (about 0.1-0.2 ms) and throttled minutes (about 4 ms), the
``fsync`` time measured right before it and the regime that implies; compare
a trouper row with a baseline that ran in the same regime.

After the table, two floors: a round trip from a Trio task to a thread and
back (the way every durable ``await tell`` goes, to the writer thread and
back through ``run_sync_soon``) and, for comparison, to a child process over
a pipe, each with no work on the other side; and the rate the sequential
row could reach through each if nothing but raw (a)'s commit and that round
trip cost anything; and the rate of one commit per message made by a child
process for a caller blocked on its pipe (no Trio, no trouper): what a writer
outside the caller's thread reaches at best on this machine.
"""

from __future__ import annotations

import argparse
import os
import queue
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import attrs
import trio
import trio.testing

import trouper
from trouper.codec import Codec
from trouper.durable import Durable, SqliteStore, WriteBatch, set_wall_clock
from trouper.routing import Balancing

PAYLOAD = b"x" * 64
BATCH = 100


@trouper.message("bench.durable.payload")
@attrs.frozen
class Payload:
    """What every trouper row sends: 64 bytes in a registered attrs message."""

    data: bytes


MESSAGE = Payload(PAYLOAD)


# --- the disk -----------------------------------------------------------------


def fsync_probe(directory: Path, count: int = 8) -> float:
    """Median milliseconds of a 4 KiB write + fsync on ``directory``'s file system."""
    path = directory / "fsync-probe"
    times = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for n in range(count):
            os.pwrite(fd, b"p" * 4096, 4096 * (n % 4))
            start = perf_counter()
            os.fsync(fd)
            times.append((perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


def regime(fsync_ms: float) -> str:
    """Name the disk's regime from an fsync time."""
    if fsync_ms < 1.0:
        return "fast"
    if fsync_ms >= 2.5:
        return "throttled"
    return "between"


# --- raw sqlite3 -------------------------------------------------------------------


def raw_connection(path: Path, synchronous: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY, payload BLOB)")
    return connection


def prefill(connection: sqlite3.Connection, n: int, table: str = "q") -> None:
    connection.execute("BEGIN")
    connection.executemany(f"INSERT INTO {table} (payload) VALUES (?)", [(PAYLOAD,)] * n)
    connection.execute("COMMIT")


def raw_insert(path: Path, synchronous: str, n: int, batch: int) -> float:
    """(a)/(b): INSERT ``batch`` rows per commit; messages per second."""
    connection = raw_connection(path, synchronous)
    rows = [(PAYLOAD,)] * batch
    start = perf_counter()
    for _ in range(n // batch):
        connection.execute("BEGIN")
        if batch == 1:
            connection.execute("INSERT INTO q (payload) VALUES (?)", rows[0])
        else:
            connection.executemany("INSERT INTO q (payload) VALUES (?)", rows)
        connection.execute("COMMIT")
    rate = n / (perf_counter() - start)
    connection.close()
    return rate


def raw_take(path: Path, synchronous: str, n: int, batch: int) -> float:
    """(c): read the next ``batch`` rows and delete them, per commit; messages per second."""
    connection = raw_connection(path, synchronous)
    prefill(connection, n)
    start = perf_counter()
    for _ in range(n // batch):
        connection.execute("BEGIN")
        rows = connection.execute(
            "SELECT id, payload FROM q ORDER BY id LIMIT ?", (batch,)
        ).fetchall()
        if batch == 1:
            connection.execute("DELETE FROM q WHERE id = ?", (rows[0][0],))
        else:
            connection.executemany("DELETE FROM q WHERE id = ?", [(row[0],) for row in rows])
        connection.execute("COMMIT")
    rate = n / (perf_counter() - start)
    connection.close()
    return rate


def raw_take_and_send(path: Path, synchronous: str, n: int, batch: int) -> float:
    """(d): delete ``batch`` inputs and insert one output each, per commit; messages per second."""
    connection = raw_connection(path, synchronous)
    connection.execute("CREATE TABLE IF NOT EXISTS out (id INTEGER PRIMARY KEY, payload BLOB)")
    prefill(connection, n)
    start = perf_counter()
    for _ in range(n // batch):
        connection.execute("BEGIN")
        rows = connection.execute(
            "SELECT id, payload FROM q ORDER BY id LIMIT ?", (batch,)
        ).fetchall()
        if batch == 1:
            connection.execute("DELETE FROM q WHERE id = ?", (rows[0][0],))
            connection.execute("INSERT INTO out (payload) VALUES (?)", (rows[0][1],))
        else:
            connection.executemany("DELETE FROM q WHERE id = ?", [(row[0],) for row in rows])
            connection.executemany(
                "INSERT INTO out (payload) VALUES (?)", [(row[1],) for row in rows]
            )
        connection.execute("COMMIT")
    rate = n / (perf_counter() - start)
    connection.close()
    return rate


# --- trouper, through actors ------------------------------------------------------


def _store(path: Path, synchronous: str) -> SqliteStore:
    return SqliteStore(path, synchronous="full" if synchronous == "full" else "normal")


def _durable() -> Durable:
    return Durable(capacity=10_000_000)


class Blocked(trouper.Actor):
    """A durable target that never finishes its first message: what it is told stays stored."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @trouper.handler
    async def payload(self, message: Payload) -> None:
        await self.gate.wait()


class Countdown:
    """Counts handled messages; ``done`` is set at zero."""

    __slots__ = ("done", "left")

    def __init__(self, count: int) -> None:
        self.left = count
        self.done = trio.Event()

    def one(self) -> None:
        self.left -= 1
        if not self.left:
            self.done.set()


@attrs.frozen
class Go:
    """Tells a sender to tell its target ``count`` messages."""

    count: int


class Sender(trouper.Actor):
    """An in-memory actor that tells its durable target, each ``await tell`` durable."""

    def __init__(self, target: trouper.ActorRef[object], finished: Countdown) -> None:
        self.target = target
        self.finished = finished

    @trouper.handler
    async def go(self, message: Go) -> None:
        target = self.target
        for _ in range(message.count):
            await target.tell(MESSAGE)
        self.finished.one()


class Consumer(trouper.Actor):
    """A durable actor that counts what it handles (acknowledged when the handler returns).

    Its handlers wait for ``go`` first: the actors are spawned (and their first
    window fetched) before the clock starts, as the raw baselines have no setup.
    """

    def __init__(self, handled: Countdown, go: trio.Event) -> None:
        self.handled = handled
        self.go = go

    @trouper.handler
    async def payload(self, message: Payload) -> None:
        if not self.go.is_set():
            await self.go.wait()
        self.handled.one()


class Forwarder(trouper.Actor):
    """A durable actor whose handler tells a durable sink: staged, committed with the ack."""

    def __init__(self, sink: trouper.ActorRef[object], handled: Countdown, go: trio.Event) -> None:
        self.sink = sink
        self.handled = handled
        self.go = go

    @trouper.handler
    async def payload(self, message: Payload) -> None:
        if not self.go.is_set():
            await self.go.wait()
        await self.sink.tell(message)
        self.handled.one()


async def _prefill(store: SqliteStore, mailboxes: list[str], each: int) -> None:
    """Store ``each`` messages in every mailbox, before the actors that consume them start."""
    encoded = Codec().encode(MESSAGE)
    for name in mailboxes:
        for start in range(0, each, 5000):
            batch = WriteBatch()
            for _ in range(min(5000, each - start)):
                batch.append(name, encoded.type_name, encoded.payload)
            await store.submit(batch)


def trouper_sequential(path: Path, synchronous: str, n: int) -> float:
    """One task, ``await ref.tell(msg)`` to a durable actor, one after the other."""

    async def main() -> float:
        gate = trio.Event()
        async with trouper.open_runtime(store=_store(path, synchronous)) as rt:
            target = await rt.spawn(Blocked, gate, name="box", mailbox=_durable())
            start = perf_counter()
            for _ in range(n):
                await target.tell(MESSAGE)
            rate = n / (perf_counter() - start)
            gate.set()
        return rate

    return trio.run(main)


def trouper_appenders(
    path: Path, synchronous: str, n: int, senders: int = 100, lag: list[float] | None = None
) -> float:
    """``senders`` in-memory actors each ``await tell`` a durable actor n/senders times."""

    async def main() -> float:
        gate = trio.Event()
        async with (
            trouper.open_runtime(store=_store(path, synchronous)) as rt,
            trio.open_nursery() as nursery,
        ):
            target = await rt.spawn(Blocked, gate, name="box", mailbox=_durable())
            finished = Countdown(senders)
            refs = [await rt.spawn(Sender, target, finished) for _ in range(senders)]
            stop = trio.Event()
            if lag is not None:
                nursery.start_soon(_heartbeat, lag, stop)
            each = n // senders
            start = perf_counter()
            for ref in refs:
                ref.tell_nowait(Go(each))
            await finished.done.wait()
            rate = each * senders / (perf_counter() - start)
            stop.set()
            gate.set()
        return rate

    return trio.run(main)


def idle_lag(seconds: float = 1.0) -> list[float]:
    """The heartbeat's lateness on an idle Trio loop (what the OS and epoll add)."""

    async def main() -> list[float]:
        lateness: list[float] = []
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_heartbeat, lateness, stop)
            await trio.sleep(seconds)
            stop.set()
        return lateness

    return trio.run(main)


async def _heartbeat(lateness: list[float], stop: trio.Event) -> None:
    """Sleep 1 ms again and again; record how late each wake-up is (ms)."""
    while not stop.is_set():
        due = trio.current_time() + 0.001
        await trio.sleep_until(due)
        lateness.append((trio.current_time() - due) * 1000)


def trouper_consume(path: Path, synchronous: str, n: int) -> float:
    """One durable actor handles and acknowledges ``n`` stored messages."""

    async def main() -> float:
        async with trouper.open_runtime(store=_store(path, synchronous)) as rt:
            await _prefill(rt.store, ["box"], n)  # type: ignore[arg-type]
            handled, go = Countdown(n), trio.Event()
            await rt.spawn(Consumer, handled, go, name="box", mailbox=_durable())
            start = perf_counter()
            go.set()
            await handled.done.wait()
            await rt.store.flush()
            rate = n / (perf_counter() - start)
        return rate

    return trio.run(main)


def trouper_pool_consume(path: Path, synchronous: str, n: int, members: int = 100) -> float:
    """A durable balancing pool of ``members`` handles and acknowledges ``n`` stored jobs."""

    async def main() -> float:
        async with trouper.open_runtime(store=_store(path, synchronous)) as rt:
            await _prefill(rt.store, ["jobs"], n)  # type: ignore[arg-type]
            handled, go = Countdown(n), trio.Event()
            await rt.spawn_pool(
                Consumer, members, handled, go, router=Balancing(), name="jobs", mailbox=_durable()
            )
            start = perf_counter()
            go.set()
            await handled.done.wait()
            await rt.store.flush()
            rate = n / (perf_counter() - start)
        return rate

    return trio.run(main)


def trouper_transactional(path: Path, synchronous: str, n: int, actors: int = 100) -> float:
    """``actors`` durable actors each handle their stored messages, each with one staged send."""

    async def main() -> float:
        gate = trio.Event()
        async with trouper.open_runtime(store=_store(path, synchronous)) as rt:
            each = n // actors
            names = [f"in-{index}" for index in range(actors)]
            await _prefill(rt.store, names, each)  # type: ignore[arg-type]
            sink = await rt.spawn(Blocked, gate, name="sink", mailbox=_durable())
            handled, go = Countdown(each * actors), trio.Event()
            for name in names:
                await rt.spawn(Forwarder, sink, handled, go, name=name, mailbox=_durable())
            start = perf_counter()
            go.set()
            await handled.done.wait()
            await rt.store.flush()
            rate = each * actors / (perf_counter() - start)
            gate.set()
        return rate

    return trio.run(main)


# --- raw Trio: each row's shape with no trouper, a writer thread on raw sqlite3 ---------
#
# What a Trio program reaches with the design the issue prescribes (Trio's
# thread never touches SQLite; one writer thread commits a group per crossing)
# and nothing else: no codec, no mailbox, no actor, no dedup, no recovery
# bookkeeping. Each shape is written to be as fast as it can be (the group
# commit waits for every sender that waited last time; a consumer handles
# everything ready before it yields), so a row's target above this line's
# ratio is out of reach of any Trio program with a writer thread on this
# machine, and trouper's rate over this line's is the price of the framework.


class RawWriter:
    """A writer thread with its own connection: runs posted jobs, answers on Trio's thread."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.jobs: queue.SimpleQueue[
            tuple[Callable[[sqlite3.Connection], object], Callable[[object], object]] | None
        ] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self.serve, args=(path, synchronous))

    def start(self) -> None:
        """Start the thread; called in the Trio run it answers to."""
        self.token = trio.lowlevel.current_trio_token()
        self.thread.start()

    def serve(self, path: Path, synchronous: str) -> None:
        connection = raw_connection(path, synchronous)
        while (job := self.jobs.get()) is not None:
            work, answer = job
            connection.execute("BEGIN")
            result = work(connection)
            connection.execute("COMMIT")
            self.token.run_sync_soon(answer, result)
        connection.close()

    def post(
        self, work: Callable[[sqlite3.Connection], object], answer: Callable[[object], object]
    ) -> None:
        self.jobs.put((work, answer))

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join()


def raw_trio_sequential(path: Path, synchronous: str, n: int) -> float:
    """One Trio task waits for each INSERT's commit in the writer thread, one after the other."""

    def insert(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO q (payload) VALUES (?)", (PAYLOAD,))

    async def main() -> float:
        writer.start()
        task = trio.lowlevel.current_task()
        start = perf_counter()
        for _ in range(n):
            writer.post(insert, lambda _: trio.lowlevel.reschedule(task))
            await trio.lowlevel.wait_task_rescheduled(_cannot_abort)
        rate = n / (perf_counter() - start)
        writer.stop()
        return rate

    raw_connection(path, synchronous).close()
    writer = RawWriter(path, synchronous)
    return trio.run(main)


def raw_trio_tellers(path: Path, synchronous: str, n: int, senders: int = 100) -> float:
    """``senders`` Trio tasks each wait for their INSERT's commit; one group per crossing.

    A group is posted as soon as every task that waited for the last one has
    staged again, or by a callback in the next pass of the scheduler when fewer
    come back (trouper's rule, without its bookkeeping).
    """
    raw_connection(path, synchronous).close()
    writer = RawWriter(path, synchronous)
    staged: list[tuple[bytes]] = []
    waiting: list[trio.lowlevel.Task] = []
    state = {"flying": False, "scheduled": False, "population": 1}

    def insert_group(rows: list[tuple[bytes]]) -> Callable[[sqlite3.Connection], object]:
        return lambda connection: connection.executemany("INSERT INTO q (payload) VALUES (?)", rows)

    def post() -> None:
        state["scheduled"] = False
        if state["flying"] or not staged:
            return
        tasks = waiting[:]
        state["population"], state["flying"] = len(tasks), True
        writer.post(insert_group(staged[:]), lambda _: done(tasks))
        staged.clear()
        waiting.clear()

    def later() -> None:
        if not state["scheduled"]:
            state["scheduled"] = True
            writer.token.run_sync_soon(post)

    def done(tasks: list[trio.lowlevel.Task]) -> None:
        state["flying"] = False
        for task in tasks:
            trio.lowlevel.reschedule(task)
        if staged:
            later()

    async def sender(count: int) -> None:
        for _ in range(count):
            staged.append((PAYLOAD,))
            waiting.append(trio.lowlevel.current_task())
            if not state["flying"]:
                if len(waiting) >= state["population"]:
                    post()
                else:
                    later()
            await trio.lowlevel.wait_task_rescheduled(_cannot_abort)

    async def main() -> float:
        writer.start()
        start = perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(senders):
                nursery.start_soon(sender, n // senders)
        rate = n // senders * senders / (perf_counter() - start)
        writer.stop()
        return rate

    return trio.run(main)


def raw_trio_consume(
    path: Path, synchronous: str, n: int, consumers: int = 1, send: bool = False
) -> float:
    """``consumers`` Trio tasks handle ``n`` stored rows; acks (and sends) commit in groups.

    The writer thread reads the next window (512 rows per consumer, refilled
    at half) in the transaction that deletes the acknowledged rows (and, with
    ``send``, inserts one output row each); rows go to the consumers in turn.
    A consumer handles all it holds, then yields once.
    """
    connection = raw_connection(path, synchronous)
    connection.execute("CREATE TABLE IF NOT EXISTS out (id INTEGER PRIMARY KEY, payload BLOB)")
    prefill(connection, n)
    connection.close()
    writer = RawWriter(path, synchronous)
    window = 512 * consumers
    held: list[list[tuple[int, bytes]]] = [[] for _ in range(consumers)]
    parked: dict[int, trio.lowlevel.Task] = {}
    acks: list[tuple[int]] = []
    outputs: list[tuple[bytes]] = []
    state = {"flying": False, "outstanding": 0, "last": 0, "turn": 0, "handled": 0}
    committed = trio.Event()

    def work(
        done_ids: list[tuple[int]], sent: list[tuple[bytes]], want: int
    ) -> Callable[[sqlite3.Connection], object]:
        def run(connection: sqlite3.Connection) -> list[tuple[int, bytes]]:
            if done_ids:
                connection.executemany("DELETE FROM q WHERE id = ?", done_ids)
            if sent:
                connection.executemany("INSERT INTO out (payload) VALUES (?)", sent)
            if not want:
                return []
            rows: list[tuple[int, bytes]] = connection.execute(
                "SELECT id, payload FROM q WHERE id > ? ORDER BY id LIMIT ?",
                (state["last"], want),
            ).fetchall()
            if rows:
                state["last"] = rows[-1][0]
            return rows

        return run

    def post() -> None:
        if state["flying"]:
            return
        outstanding = state["outstanding"]
        want = window - outstanding if outstanding <= window // 2 else 0
        if not acks and not want:
            return
        state["outstanding"] += want
        state["flying"] = True
        writer.post(work(acks[:], outputs[:], want), done)
        acks.clear()
        outputs.clear()

    def done(rows: object) -> None:
        state["flying"] = False
        assert isinstance(rows, list)
        turn = state["turn"]
        for row in rows:
            held[turn].append(row)
            turn = (turn + 1) % consumers
        state["turn"] = turn
        for index, task in list(parked.items()):
            if held[index]:
                del parked[index]
                trio.lowlevel.reschedule(task)
        post()
        if state["handled"] == n and not state["flying"]:
            committed.set()

    async def consumer(index: int) -> None:
        mine = held[index]
        while state["handled"] < n:
            if not mine:
                parked[index] = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(_cannot_abort)
                continue
            for row in mine:
                acks.append((row[0],))
                if send:
                    outputs.append((row[1],))
            state["handled"] += len(mine)
            state["outstanding"] -= len(mine)
            mine.clear()
            post()
            await trio.lowlevel.checkpoint()
        for task in parked.values():
            trio.lowlevel.reschedule(task)
        parked.clear()

    async def main() -> float:
        writer.start()
        start = perf_counter()
        post()
        async with trio.open_nursery() as nursery:
            for index in range(consumers):
                nursery.start_soon(consumer, index)
        post()
        if state["flying"]:
            await committed.wait()
        rate = n / (perf_counter() - start)
        writer.stop()
        return rate

    return trio.run(main)


# --- floors: a round trip to another thread or process, with no work there --------


def thread_round_trip(count: int = 3000, rounds: int = 3) -> float:
    """Microseconds for a Trio task to hand a job to a thread and be woken with the answer.

    The path of every durable ``await tell`` (to the writer thread in a queue,
    back through ``run_sync_soon``), with no SQLite and no trouper code in
    between: what the sequential row pays besides the commit. Best of ``rounds``.
    """
    jobs: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()

    def serve(token: trio.lowlevel.TrioToken) -> None:
        while (job := jobs.get()) is not None:
            token.run_sync_soon(job)

    async def main() -> float:
        thread = threading.Thread(target=serve, args=(trio.lowlevel.current_trio_token(),))
        thread.start()
        best = float("inf")
        for _ in range(rounds):
            start = perf_counter()
            for _ in range(count):
                task = trio.lowlevel.current_task()
                jobs.put(lambda task=task: trio.lowlevel.reschedule(task))  # type: ignore[misc]
                await trio.lowlevel.wait_task_rescheduled(_cannot_abort)
            best = min(best, (perf_counter() - start) / count * 1e6)
        jobs.put(None)
        thread.join()
        return best

    return trio.run(main)


def _cannot_abort(_: object) -> trio.lowlevel.Abort:
    return trio.lowlevel.Abort.FAILED


_ECHO = "import os, sys\nwhile data := os.read(0, 65536):\n    os.write(1, data)\n"


def process_round_trip(count: int = 3000, rounds: int = 3) -> float:
    """Microseconds for a Trio task to send 100 bytes to a child process and read the echo.

    For comparison with ``thread_round_trip``: a writer in its own process (its
    own GIL) would be reached this way, the answer waking the task directly.
    """
    child = subprocess.Popen(
        [sys.executable, "-S", "-c", _ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdin is not None
    assert child.stdout is not None
    to_child, from_child = child.stdin.fileno(), child.stdout.fileno()
    os.set_blocking(from_child, False)

    async def main() -> float:
        best = float("inf")
        for _ in range(rounds):
            start = perf_counter()
            for _ in range(count):
                os.write(to_child, PAYLOAD + PAYLOAD[:36])
                await trio.lowlevel.wait_readable(from_child)
                os.read(from_child, 65536)
            best = min(best, (perf_counter() - start) / count * 1e6)
        return best

    try:
        return trio.run(main)
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()


_WRITER = """
import os, sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA journal_mode = WAL")
connection.execute("PRAGMA synchronous = " + sys.argv[2])
connection.execute(
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, mailbox INTEGER NOT NULL, "
    "type_name TEXT NOT NULL, payload BLOB NOT NULL, msg_id TEXT, available_at REAL NOT NULL, "
    "enqueued_at REAL NOT NULL)"
)
connection.execute("CREATE INDEX messages_by_mailbox ON messages (mailbox, id)")
os.write(1, b"+")
while payload := os.read(0, 65536):
    connection.execute(
        "INSERT INTO messages (mailbox, type_name, payload, available_at, enqueued_at) "
        "VALUES (1, 'bench.durable.payload', ?, 0, 0)",
        (payload,),
    )
    os.write(1, b"+")
"""


def process_writer(path: Path, synchronous: str, n: int) -> float:
    """Messages per second when a child process commits each one and the caller blocks on it.

    One INSERT per commit into a table shaped like the store's, in a process
    of its own (its own GIL), the caller a plain loop writing to its pipe and
    reading the answer: the best a writer outside the caller's thread can do
    for the sequential row, with no Trio, no codec and no trouper code.
    """
    child = subprocess.Popen(
        [sys.executable, "-S", "-c", _WRITER, str(path), synchronous],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    to_child, from_child = child.stdin.fileno(), child.stdout.fileno()
    try:
        if os.read(from_child, 1) != b"+":
            raise RuntimeError("the writer process did not start")
        start = perf_counter()
        for _ in range(n):
            os.write(to_child, PAYLOAD)
            if os.read(from_child, 1) != b"+":
                raise RuntimeError("the writer process stopped")
        return n / (perf_counter() - start)
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()


# --- peers ---------------------------------------------------------------------------


def dedup_purge(path: Path, synchronous: str, kept: int = 400_000, commits: int = 30) -> float:
    """Microseconds per commit that purges one expired dedup id, ``kept`` live ids beside it.

    Once ids begin to expire, every commit of a busy deduplicating mailbox
    purges; its cost must not grow with the ids kept (it did: ~20 ms at
    400,000, before the purge went through the expiry index). On virtual
    time: the store's wall clock follows it, so no real second is waited.
    """
    epoch = 1_000_000.0

    async def main() -> float:
        set_wall_clock(epoch)
        async with _store(path, synchronous) as store:
            batch = WriteBatch()
            for n in range(kept):
                batch.append("box", "str", b"x", msg_id=f"live-{n}", dedup_until=epoch + 1e6)
            for n in range(commits):
                batch.append("box", "str", b"x", msg_id=f"soon-{n}", dedup_until=epoch + 1 + n)
            await store.submit(batch)
            spent = 0.0
            for _ in range(commits):
                await trio.sleep(1.5)  # one more id has expired: the next commit purges it
                one = WriteBatch()
                one.append("box", "str", b"m")
                start = perf_counter()
                await store.submit(one)
                spent += perf_counter() - start
        return spent / commits * 1e6

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def litequeue_consume(path: Path, synchronous: str, n: int) -> float:
    """litequeue: ``pop`` then ``done`` per message (its own transactions)."""
    from litequeue import LiteQueue  # type: ignore[import-untyped]

    queue = LiteQueue(str(path))
    queue.conn.execute(f"PRAGMA synchronous = {synchronous}")
    for _ in range(n):
        queue.put(PAYLOAD.decode())
    start = perf_counter()
    for _ in range(n):
        message = queue.pop()
        assert message is not None
        queue.done(message.message_id)
    rate = n / (perf_counter() - start)
    queue.close()
    return rate


def huey_consume(path: Path, synchronous: str, n: int, workers: int = 100) -> float:
    """huey's SqliteStorage: ``workers`` threads ``dequeue`` until it is empty."""
    from huey.storage import SqliteStorage  # type: ignore[import-untyped]

    storage = SqliteStorage("bench", filename=str(path), fsync=synchronous == "full")
    for _ in range(n):
        storage.enqueue(PAYLOAD)
    taken = [0] * workers

    def worker(index: int) -> None:
        while storage.dequeue() is not None:
            taken[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    start = perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = sum(taken) / (perf_counter() - start)
    assert sum(taken) == n, (sum(taken), n)
    return rate


# --- the table ---------------------------------------------------------------------------


@attrs.frozen
class Row:
    name: str
    n: int
    unit: str
    baseline: str
    raw: float | None
    trouper: float
    target: float | None
    fsync_ms: float
    raw_trio: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.raw is None else self.trouper / self.raw

    @property
    def raw_trio_ratio(self) -> float | None:
        """What the same shape in raw Trio reaches against the baseline: the ceiling."""
        return None if self.raw is None or self.raw_trio is None else self.raw_trio / self.raw

    @property
    def result(self) -> str:
        if self.target is None or self.ratio is None:
            return "info"
        return "PASS" if self.ratio >= self.target else "MISS"


def run(
    directory: Path,
    synchronous: str,
    scale: float,
    repeat: int,
    progress: Callable[[str], None],
    only: list[str] | None = None,
) -> None:
    counter = iter(range(100_000))

    def fresh() -> Path:
        return directory / f"bench-{next(counter)}.db"

    def size(n: int) -> int:
        return max(BATCH, int(n * scale) // BATCH * BATCH)

    before = fsync_probe(directory)
    print(f"fsync probe before: {before:.3f} ms ({regime(before)})")
    print(f"files in {directory}, WAL, synchronous={synchronous.upper()}, best of {repeat}\n")
    small, large, peer_n = size(2000), size(40_000), size(2000)
    sync = synchronous
    raw_rows: list[tuple[str, Callable[[], float]]] = [
        ("(a) INSERT, 1 per commit", lambda: raw_insert(fresh(), sync, small, 1)),
        ("(b) INSERT, 100 per commit", lambda: raw_insert(fresh(), sync, large, BATCH)),
        ("(c) read+delete, 1 per commit", lambda: raw_take(fresh(), sync, small, 1)),
        ("(c) read+delete, 100 per commit", lambda: raw_take(fresh(), sync, large, BATCH)),
        ("(d) delete+insert, 1 per commit", lambda: raw_take_and_send(fresh(), sync, small, 1)),
        (
            "(d) delete+insert, 100 per commit",
            lambda: raw_take_and_send(fresh(), sync, large, BATCH),
        ),
    ]
    print(f"{'raw baseline (run first)':<36} {'msg/s':>10}  {'fsync ms':>8}  regime")
    raw_best: dict[str, float] = {}
    for label, function in raw_rows if only is None else ():
        progress(f"raw {label}")
        probe = fsync_probe(directory, 4)
        raw_best[label] = max(function() for _ in range(repeat))
        print(f"{label:<36} {raw_best[label]:>10,.0f}  {probe:>8.3f}  {regime(probe)}")
    print()
    lateness: list[float] = []
    pairs: list[
        tuple[
            str,
            int,
            str,
            Callable[[], float],
            Callable[[], float],
            float,
            Callable[[], float] | None,
        ]
    ] = [
        (
            "sequential await tell, 1 sender",
            small,
            "(a)",
            raw_rows[0][1],
            lambda: trouper_sequential(fresh(), sync, small),
            0.7,
            lambda: raw_trio_sequential(fresh(), sync, small),
        ),
        (
            "100 actors telling concurrently",
            large,
            "(b)",
            raw_rows[1][1],
            lambda: trouper_appenders(fresh(), sync, large, lag=lateness),
            0.5,
            lambda: raw_trio_tellers(fresh(), sync, large),
        ),
        (
            "ack + 1 staged send, 100 actors",
            large,
            "(d)x100",
            raw_rows[5][1],
            lambda: trouper_transactional(fresh(), sync, large),
            0.45,
            lambda: raw_trio_consume(fresh(), sync, large, consumers=100, send=True),
        ),
        (
            "1 durable actor handling + ack",
            large,
            "(c)x100",
            raw_rows[3][1],
            lambda: trouper_consume(fresh(), sync, large),
            0.4,
            lambda: raw_trio_consume(fresh(), sync, large),
        ),
        (
            "handle + ack vs litequeue pop+done",
            peer_n,
            "litequeue",
            lambda: litequeue_consume(fresh(), sync, peer_n),
            lambda: trouper_consume(fresh(), sync, large),
            10.0,
            None,
        ),
        (
            "durable pool of 100 vs huey, 100 threads",
            peer_n,
            "huey",
            lambda: huey_consume(fresh(), sync, peer_n),
            lambda: trouper_pool_consume(fresh(), sync, large),
            5.0,
            None,
        ),
    ]
    rows: list[Row] = []
    for name, n, baseline, raw_function, trouper_function, goal, raw_trio_function in pairs:
        if only is not None and not any(word in name for word in only):
            continue
        progress(name)
        probes = []
        measured: dict[Callable[[], float], list[float]] = {}
        for round_ in range(repeat):
            probes.append(fsync_probe(directory, 4))
            order = [raw_function, trouper_function]
            if raw_trio_function is not None:
                order.insert(1, raw_trio_function)
            if round_ % 2:
                order.reverse()
            for function in order:
                measured.setdefault(function, []).append(function())
        rows.append(
            Row(
                name,
                n,
                "msg/s",
                baseline,
                max(measured[raw_function]),
                max(measured[trouper_function]),
                goal,
                statistics.median(probes),
                None if raw_trio_function is None else max(measured[raw_trio_function]),
            )
        )

    print(
        f"{'row':<36} {'n':>6} {'unit':>6} {'baseline':>10} {'raw':>10} {'trouper':>10} "
        f"{'ratio':>6} {'target':>6} {'result':>6}  {'raw Trio':>10} {'ratio':>6}  disk (fsync)"
    )
    for row in rows:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        target = f">={row.target:g}" if row.target is not None else "-"
        raw_text = f"{row.raw:,.0f}" if row.raw is not None else "-"
        raw_trio = f"{row.raw_trio:,.0f}" if row.raw_trio is not None else "-"
        reached = f"{row.raw_trio_ratio:.2f}" if row.raw_trio_ratio is not None else "-"
        print(
            f"{row.name:<36} {row.n:>6} {row.unit:>6} {row.baseline:>10} {raw_text:>10} "
            f"{row.trouper:>10,.0f} {ratio:>6} {target:>6} {row.result:>6}  "
            f"{raw_trio:>10} {reached:>6}  {regime(row.fsync_ms)} ({row.fsync_ms:.2f} ms)"
        )
    print(
        "(raw Trio: the row's shape in raw Trio through a writer thread on raw sqlite3, no\n"
        " trouper; its ratio is the most any Trio program with the prescribed writer thread\n"
        " reached here, so a target above it is out of reach on this machine)"
    )
    through_thread, through_process = thread_round_trip(), process_round_trip()
    print("\nfloors (a round trip with no work on the other side, best of 3):")
    print(f"  Trio -> thread -> Trio (queue, run_sync_soon)       {through_thread:6.1f} us")
    print(f"  Trio -> child process -> Trio (pipe, wait_readable) {through_process:6.1f} us")
    raw_a = raw_best.get(raw_rows[0][0])
    if raw_a:
        for way, round_trip in (("a thread", through_thread), ("a process", through_process)):
            ceiling = 1 / (1 / raw_a + round_trip / 1e6)
            print(
                f"  sequential await tell through {way}, nothing else costing: at most "
                f"{ceiling:,.0f} msg/s = {ceiling / raw_a:.2f}x raw (a)"
            )
    if raw_a and only is None:
        in_process = max(process_writer(fresh(), sync, small) for _ in range(repeat))
        print(
            f"  one commit per message in a child process, the caller blocked on it (no Trio): "
            f"{in_process:,.0f} msg/s = {in_process / raw_a:.2f}x raw (a)"
        )
        kept = size(400_000)
        purging = dedup_purge(fresh(), sync, kept)
        print(
            f"  a commit purging one expired dedup id, {kept:,} ids kept: "
            f"{purging:,.0f} us (one commit alone: {1e6 / raw_a:,.0f} us)"
        )
    idle = idle_lag()
    print()
    for label, values in (("idle loop (no load)", idle), ("under 100 telling actors", lateness)):
        values.sort()
        if not values:
            continue
        p50 = values[len(values) // 2]
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(
            f"event-loop lag, {label:<26} p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
            f"max {values[-1]:.3f} ms ({len(values)} heartbeats of 1 ms)"
        )
    if lateness:
        verdict = (
            "PASS" if lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))] <= 1.0 else "MISS"
        )
        print(f"target <= 1 ms (p99 under load; the max is the OS's, see the idle row): {verdict}")
    after = fsync_probe(directory)
    print(f"\nfsync probe after: {after:.3f} ms ({regime(after)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durable_bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--dir", type=Path, help="where the files go (default: a temp dir here)")
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per side, best kept")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORDS",
        help="run only the paired rows whose name contains WORDS (repeatable; no raw table)",
    )
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"... {line}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(dir=args.dir or Path.cwd(), prefix="durable-bench-") as d:
        run(Path(d), args.synchronous, args.scale, args.repeat, progress, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
