"""Node processes: tell, ask and watch among three of them; a SIGKILLed node; a server restart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from remote_support import (
    Balance,
    CountWatchers,
    Deposit,
    Forward,
    Hang,
    Note,
    Notes,
    ReplyTo,
    Seen,
    Stats,
    StatsReply,
    StopNow,
    Watched,
    WatchIt,
    wait_for,
)

import trouper
from trouper import Terminated
from trouper.errors import NodeUnreachable
from trouper.remote import Nats, cluster_of, locate
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

NODE_SCRIPT = Path(__file__).with_name("remote_node.py")
STARTUP = 30.0
"""Real seconds the node processes may take to start together on a loaded machine."""


@asynccontextmanager
async def node_processes(
    url: str, prefix: str, names: list[str], heartbeat: float
) -> AsyncIterator[dict[str, trio.Process]]:
    """Node processes joined to the cluster, each ``ready``; left (or killed) at the end."""
    processes: dict[str, trio.Process] = {}
    try:
        for name in names:
            processes[name] = await trio.lowlevel.open_process(
                [sys.executable, str(NODE_SCRIPT), url, prefix, name, str(heartbeat)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        with trio.fail_after(STARTUP):
            for process in processes.values():
                assert process.stdout is not None
                line = b""
                while not line.endswith(b"\n"):
                    chunk = await process.stdout.receive_some(1)
                    assert chunk, f"a node process ended before it was ready ({process.returncode})"
                    line += chunk
                assert line == b"ready\n"
        yield processes
    finally:
        with trio.CancelScope(shield=True):
            for process in processes.values():
                if process.stdin is not None:
                    await process.stdin.aclose()
            with trio.move_on_after(10):
                for process in processes.values():
                    await process.wait()
            for process in processes.values():
                if process.returncode is None:
                    process.kill()
                    await process.wait()


@asynccontextmanager
async def driver(
    url: str, prefix: str, heartbeat: float, *nodes: str
) -> AsyncIterator[trouper.Runtime]:
    """The test's own node, once it hears every node in ``nodes``."""
    transport = Nats(url, prefix=prefix, heartbeat=heartbeat, reconnect_wait=0.05)
    async with trouper.open_runtime(node="driver", transport=transport) as rt:
        with trio.fail_after(STARTUP):
            await wait_for(lambda: set(nodes) <= set(cluster_of(rt).nodes()))
        yield rt


async def test_three_node_processes_tell_ask_and_watch_each_other(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Tells, asks, a ref in a message, an ask between two processes, and a watch across three."""
    notes: list[object] = []
    reports: list[object] = []
    async with (
        node_processes(cluster_server.url, prefix, ["n1", "n2", "n3"], 0.5),
        driver(cluster_server.url, prefix, 0.5, "n1", "n2", "n3") as rt,
    ):
        inbox = await rt.spawn(Notes, notes)
        report = await rt.spawn(Seen, reports)
        n1 = rt.remote("n1", "acct")
        with trio.fail_after(10):
            await n1.tell(Deposit(5))
            assert await n1.ask(Balance()) == 5
            assert await rt.remote("n2", "acct").ask(Forward("n1", "acct")) == 5
            assert await n1.ask(ReplyTo(inbox, "hello")) == inbox
            await rt.remote("n3", "watcher").tell(WatchIt(rt.remote("n2", "acct"), report))
            await wait_until_watchers(rt, "n2", 1)
            await rt.remote("n2", "acct").tell(StopNow())
            await wait_for(lambda: len(reports) == 1 and notes == ["hello"])
    assert reports == [Watched("/acct", "n2", "")]


async def wait_until_watchers(rt: trouper.Runtime, node: str, count: int) -> None:
    """Poll ``node``'s account until that many watchers (local or remote) are registered."""
    remote = rt.remote(node, "acct")
    while await remote.ask(CountWatchers()) < count:  # noqa: ASYNC110 - state of another process
        await trio.sleep(0.01)


class Journal(trouper.Actor):
    """Watches refs it is told of; records each ``Terminated`` with the time it came."""

    def __init__(self, seen: list[tuple[Terminated, float]]) -> None:
        self.seen = seen

    @trouper.handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append((message, trio.current_time()))

    async def receive(self, message: object) -> None:
        assert isinstance(message, trouper.ActorRef)
        self.ctx.watch(message)


async def test_a_killed_node_is_terminated_for_its_watchers_within_two_heartbeats(
    cluster_server: NatsServer, prefix: str
) -> None:
    """SIGKILL n2: a watcher here and one on n3 hear Terminated(NodeUnreachable) in time."""
    heartbeat = 0.25
    seen: list[tuple[Terminated, float]] = []
    reports: list[object] = []
    async with (
        node_processes(cluster_server.url, prefix, ["n2", "n3"], heartbeat) as procs,
        driver(cluster_server.url, prefix, heartbeat, "n2", "n3") as rt,
    ):
        victim = rt.remote("n2", "acct")
        await (await rt.spawn(Journal, seen)).tell(victim)
        await rt.remote("n3", "watcher").tell(WatchIt(victim, await rt.spawn(Seen, reports)))
        with trio.fail_after(10):
            await wait_until_watchers(rt, "n2", 2)
        procs["n2"].kill()
        killed = trio.current_time()
        with trio.fail_after(10):
            await wait_for(lambda: len(seen) == 1 and len(reports) == 1)
    terminated, at = seen[0]
    assert terminated.ref == victim
    assert isinstance(terminated.reason, NodeUnreachable)
    assert str(terminated.reason) == (
        "actor trouper://n2/acct is unreachable: node 'n2' sent no heartbeat for 0.5 s"
    )
    # Two intervals after its last heartbeat, which came at most one interval before the kill;
    # the slack is for a loaded machine's scheduling.
    assert at - killed <= 2 * heartbeat + 0.2
    assert reports == [Watched("/acct", "n2", "NodeUnreachable")]


async def test_a_server_restart_mid_stream_loses_only_counted_messages(
    own_server: NatsServer, prefix: str
) -> None:
    """Tells across a restart: every one either arrives or is counted lost; nothing hangs."""
    async with (
        node_processes(own_server.url, prefix, ["n1"], 2.0),
        driver(own_server.url, prefix, 2.0, "n1") as rt,
    ):
        counter = rt.remote("n1", "counter")
        sent = 0
        with trio.fail_after(30):
            for _ in range(300):
                await counter.tell(Note("x"))
                sent += 1
            await own_server.arestart()
            await wait_for(lambda: cluster_of(rt).statistics().reconnects == 1)
            # n1 reconnects on its own schedule; a lookup (which sends it no
            # tell or ask, so it leaves the numbering alone) says when it is back.
            while await locate(rt, "counter") is None:  # noqa: ASYNC110 - another process
                await trio.sleep(0.02)
            for _ in range(300):
                await counter.tell(Note("x"))
                sent += 1
            stats = await counter.ask(Stats())
    assert isinstance(stats, StatsReply)
    assert stats.reconnects == 1
    assert stats.handled + stats.lost == sent
    assert stats.handled >= 300


async def test_asks_fail_at_once_while_the_server_is_down(
    own_server: NatsServer, prefix: str
) -> None:
    """An ask in flight when the connection drops, and one made during the outage, both fail."""
    async with (
        node_processes(own_server.url, prefix, ["n1"], 2.0),
        driver(own_server.url, prefix, 2.0, "n1") as rt,
    ):
        acct = rt.remote("n1", "acct")
        failures: list[BaseException] = []

        async def ask_forever() -> None:
            try:
                await acct.ask(Hang())
            except NodeUnreachable as error:
                failures.append(error)

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_forever)
                await wait_until_watchers(rt, "n1", 0)  # a round trip: the Hang ask is in
                await own_server.astop()
            assert [str(error) for error in failures] == [
                "actor trouper://n1/acct is unreachable: "
                "this node's connection to the cluster dropped"
            ]
            assert not cluster_of(rt).connected
            with pytest.raises(
                NodeUnreachable, match=r"this node's connection to the cluster is down$"
            ):
                await acct.ask(Balance())
            await own_server.astart()
            await wait_for(lambda: cluster_of(rt).connected)
            while True:  # n1 reconnects on its own schedule (its acct still hangs)
                try:
                    assert isinstance(await rt.remote("n1", "counter").ask(Stats()), StatsReply)
                    break
                except NodeUnreachable:
                    await trio.sleep(0.05)


async def test_a_node_restarted_under_its_name_terminates_the_old_ones_actors(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Killed and back before its silence shows: its new incarnation ends the old watches."""
    seen: list[tuple[Terminated, float]] = []
    async with driver(cluster_server.url, prefix, 5.0) as rt:
        async with node_processes(cluster_server.url, prefix, ["n2"], 5.0) as first:
            with trio.fail_after(STARTUP):
                await wait_for(lambda: "n2" in cluster_of(rt).nodes())
            await (await rt.spawn(Journal, seen)).tell(rt.remote("n2", "acct"))
            with trio.fail_after(10):
                await wait_until_watchers(rt, "n2", 1)
            first["n2"].kill()
        async with node_processes(cluster_server.url, prefix, ["n2"], 5.0):
            with trio.fail_after(10):
                await wait_for(lambda: len(seen) == 1)
                assert await rt.remote("n2", "acct").ask(Balance()) == 0
    assert str(seen[0][0].reason) == "actor trouper://n2/acct is unreachable: node 'n2' restarted"
