"""An answer made while the node's write buffer is full still reaches its asker."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from remote_support import nodes

import trouper
from trouper import Actor, handler
from trouper.remote import Nats
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

CHUNK = 900 * 1024
"""Bytes of one topic publish (under the server's max_payload)."""


@trouper.message("remote_review_full.wait")
@attrs.frozen
class WaitForGate(trouper.Request[str]):
    pass


@trouper.message("remote_review_full.flood")
@attrs.frozen
class Flood:
    chunks: int


@trouper.message("remote_review_full.chunk")
@attrs.frozen
class Chunk:
    data: bytes


class Gated(Actor):
    """Answers ``WaitForGate`` with "done" once ``gate`` is set (``started`` says it waits)."""

    def __init__(self, started: trio.Event, gate: trio.Event) -> None:
        self.started = started
        self.gate = gate

    @handler
    async def wait(self, message: WaitForGate) -> str:
        self.started.set()
        await self.gate.wait()
        return "done"


class Flooder(Actor):
    """Publishes ``chunks`` topic messages of ``CHUNK`` bytes on a subject the cluster shares."""

    @handler
    async def flood(self, message: Flood) -> None:
        for _ in range(message.chunks):
            await self.ctx.runtime.topics.publish("flood.x", Chunk(bytes(CHUNK)))


@contextmanager
def paused(server: NatsServer) -> Iterator[None]:
    """The server's process stopped (SIGSTOP): it reads nothing, so clients' buffers fill."""
    directory = str(server.directory)
    pids = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _cmdline(entry).find(directory) >= 0
    ]
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pids[0], signal.SIGCONT)


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


async def test_an_answer_made_while_the_write_buffer_is_full_is_sent_once_there_is_room(
    own_server: NatsServer, prefix: str
) -> None:
    """The answer waits its turn instead of being dropped (the asker would wait forever)."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    started, gate = trio.Event(), trio.Event()
    answers: list[str] = []
    async with nodes(transport, "a", "b") as (a, b):
        await b.spawn(Gated, started, gate, name="gated")
        flooder = await b.spawn(Flooder)

        async def ask() -> None:
            answers.append(await a.remote("b", "gated").ask(WaitForGate()))

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask)
                await started.wait()
                with paused(own_server):
                    # 36 MB: more than the sockets and the client's 8 MiB buffer hold.
                    await flooder.tell(Flood(40))
                    await trio.testing.wait_all_tasks_blocked(0.2)
                    gate.set()
                    await trio.testing.wait_all_tasks_blocked(0.2)
    assert answers == ["done"]


async def test_an_ask_made_while_the_write_buffer_is_full_waits_its_turn(
    own_server: NatsServer, prefix: str
) -> None:
    """Connected but busy is no cut-off: the ask goes once there is room, not NodeUnreachable."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    started, gate = trio.Event(), trio.Event()
    gate.set()
    answers: list[str] = []
    async with nodes(transport, "a", "b") as (a, b):
        await b.spawn(Gated, started, gate, name="gated")
        flooder = await a.spawn(Flooder)

        async def ask() -> None:
            answers.append(await a.remote("b", "gated").ask(WaitForGate()))

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                with paused(own_server):
                    await flooder.tell(Flood(40))
                    await trio.testing.wait_all_tasks_blocked(0.2)
                    nursery.start_soon(ask)
                    await trio.testing.wait_all_tasks_blocked(0.2)
    assert answers == ["done"]


async def test_a_tell_waiting_for_room_when_the_node_leaves_becomes_a_dead_letter(
    own_server: NatsServer, prefix: str
) -> None:
    """Woken by the leave, the tell reports the node unreachable instead of failing inside."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    letters: list[DeadLetter] = []
    results: list[bool] = []
    with ExitStack() as pause:
        async with trio.open_nursery() as nursery, nodes(transport, "a", "b") as (a, _b):
            a.dead_letters.listen(letters.append)
            target = a.remote("b", "sink")

            async def tell_until_refused() -> None:
                while await target.tell(Chunk(bytes(CHUNK))):
                    pass
                results.append(False)
                pause.close()  # let the server read again: the node can leave now

            with trio.fail_after(20):
                pause.enter_context(paused(own_server))
                nursery.start_soon(tell_until_refused)
                await trio.testing.wait_all_tasks_blocked(0.2)
    assert results == [False]
    assert letters[-1].reason == "node unreachable"


async def test_a_node_leaves_in_bounded_time_while_the_server_reads_nothing(
    own_server: NatsServer, prefix: str
) -> None:
    """What the server has not taken within the bound is dropped: the runtime's exit never hangs."""
    transport = Nats(own_server.url, prefix=prefix, heartbeat=30.0)
    with paused_after_setup(own_server) as pause, trio.fail_after(10):
        async with trio.open_nursery() as nursery, nodes(transport, "a", "b") as (a, _b):
            target = a.remote("b", "sink")

            async def tell_until_refused() -> None:
                while await target.tell(Chunk(bytes(CHUNK))):
                    pass

            pause()
            nursery.start_soon(tell_until_refused)
            await trio.testing.wait_all_tasks_blocked(0.2)


@contextmanager
def paused_after_setup(server: NatsServer) -> Iterator[Callable[[], None]]:
    """A function that pauses the server (SIGSTOP); it reads again when the block ends."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(paused(server))
