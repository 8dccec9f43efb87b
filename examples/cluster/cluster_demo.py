"""Three node processes share a work queue and a topic over NATS; one is killed, the rest go on.

Starts a ``nats-server`` (or uses the URL given), three node processes (node.py), and
joins as ``coordinator``: publishes news every node hears and jobs that a queue group
spreads over the nodes' workers (each job once), watches the workers, kills ``n2``
with SIGKILL, sees it terminated by its heartbeats' silence, and shows n1 and n3 take
all the work. Run: ``python examples/cluster/cluster_demo.py [nats://host:port]``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import attrs
import trio
from shared import HEARTBEAT, Done, Heard, Job, News

import trouper
from trouper import Actor, Terminated, handler
from trouper.remote import Nats, cluster_of
from trouper.testing import NatsServer

NODES, JOBS = ("n1", "n2", "n3"), 30


@attrs.define
class Board:
    """What the nodes report: jobs done per round (by node, and which), news heard, deaths."""

    done: list[Counter[str]] = attrs.field(factory=lambda: [Counter()])
    jobs: list[set[int]] = attrs.field(factory=lambda: [set()])
    heard: dict[str, list[str]] = attrs.field(factory=dict)
    gone: list[str] = attrs.field(factory=list)


class Log(Actor):
    """Keeps the nodes' reports on the board and watches the workers it is told of."""

    def __init__(self, board: Board) -> None:
        self.board = board

    @handler
    async def job_done(self, message: Done) -> None:
        self.board.done[-1][message.node] += 1
        self.board.jobs[-1].add(message.n)

    @handler
    async def news_heard(self, message: Heard) -> None:
        self.board.heard.setdefault(message.node, []).append(message.text)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.board.gone.append(f"{message.ref.address.node}'s worker terminated: {message.reason}")

    async def receive(self, message: object) -> None:
        assert isinstance(message, trouper.ActorRef)
        self.ctx.watch(message)


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (other processes change what it looks at)."""
    with trio.fail_after(30):
        while not condition():  # noqa: ASYNC110 - other processes change it
            await trio.sleep(0.01)


async def start_node(name: str, url: str) -> trio.Process:
    """Start the node ``name`` and wait for its "ready" (``SystemExit`` if it exits first)."""
    args = [sys.executable, str(Path(__file__).with_name("node.py")), url, "cluster-demo", name]
    proc = await trio.lowlevel.open_process(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = b""
    while not line.endswith(b"\n"):
        data = await proc.stdout.receive_some(1)  # type: ignore[union-attr]
        if not data:  # its output closed: it exited (its error went to stderr)
            proc.kill()
            await proc.wait()
            raise SystemExit(f"node {name} exited before it was ready (code {proc.returncode})")
        line += data
    return proc


async def main(url: str) -> None:
    """Start the three nodes and run the demo; the nodes still running are killed if it fails."""
    procs: dict[str, trio.Process] = {}
    try:
        for name in NODES:
            procs[name] = await start_node(name, url)
        await run(url, procs)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.kill()  # a node left behind would try to reconnect for ever
            await proc.wait()


async def run(url: str, procs: dict[str, trio.Process]) -> None:
    """Coordinate the started nodes: news, two rounds of jobs, n2 killed in between."""
    board = Board()
    transport = Nats(url, prefix="cluster-demo", heartbeat=HEARTBEAT)
    async with trouper.open_runtime(node="coordinator", transport=transport) as rt:
        log = await rt.spawn(Log, board, name="log")
        cluster = cluster_of(rt)
        await until(lambda: len(cluster.nodes()) == 4)
        print("cluster:", ", ".join(cluster.nodes()))
        for name in NODES:
            await log.tell(rt.remote(name, "worker"))  # the log watches every worker
        await rt.topics.publish("news.cluster", News("hello"))
        for round_ in ("first", "second"):
            for n in range(JOBS):
                await rt.topics.publish("jobs", Job(n, log))
            await until(lambda: board.done[-1].total() == JOBS)
            each = "each once" if len(board.jobs[-1]) == JOBS else "some twice"
            print(
                f"{round_} {JOBS} jobs: all done, {each}, by {' and '.join(sorted(board.done[-1]))}"
            )
            if round_ == "first":
                procs["n2"].kill()
                print("killed n2 (SIGKILL)")
                await until(lambda: bool(board.gone))
                print(board.gone[0])
                print("cluster:", ", ".join(cluster.nodes()))
                board.done.append(Counter())
                board.jobs.append(set())
        await rt.topics.publish("news.cluster", News("bye"))
        await until(lambda: len(board.heard["n1"]) == len(board.heard["n3"]) == 2)
        print("what each node did:")
        for name in NODES:
            jobs = " + ".join(str(counts[name]) for counts in board.done)
            print(f"  {name}: {jobs} jobs, heard {', '.join(board.heard.get(name, []))}")
    for proc in procs.values():
        proc.stdin.close()  # type: ignore[union-attr]  # the live nodes leave the cluster
        await proc.wait()


if __name__ == "__main__":
    logging.getLogger("trouper.remote").setLevel(logging.ERROR)  # this demo prints its own
    if len(sys.argv) > 1:
        trio.run(main, sys.argv[1])
    else:
        with NatsServer(jetstream=False) as server:
            trio.run(main, server.url)
