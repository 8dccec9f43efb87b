"""A tell or ask that waits for room while its node restarts is not sent to the new process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing
from remote_support import Balance, nodes, wait_for
from test_remote_review_full_buffer import CHUNK, Chunk

import trouper.nats
from relay_support import Relay
from trouper import ActorRef, Runtime
from trouper.errors import NodeUnreachable
from trouper.nats import Client, Msg
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

OLD, NEW = "ab" * 8, "cd" * 8
"""The incarnations of node "bank" before and after its restart."""
WHY = "node 'bank' restarted"


@attrs.define
class Stalled:
    """Node "web" whose writes the server does not read, and a fake node "bank" it tells."""

    web: Runtime
    target: ActorRef[object]
    """A ref to bank's actor "acct" (in bank's first process)."""
    told: list[tuple[Chunk, bool]]
    """What the filler told "acct", with what ``tell`` returned, in order."""
    letters: list[DeadLetter]
    """Web's dead letters since the outbox filled."""
    stop_filling: Callable[[], None]
    """Ends the filler's loop once the tell waiting now returns (call before ``restarted``)."""
    bank: Client
    """Bank's connection (not through the relay)."""
    frames: list[bytes]
    """The frames bank received on its actors' subjects."""
    prefix: str
    """The cluster's prefix."""

    async def restarted(self) -> None:
        """Bank's new process beats: web hears it (what it reads still flows)."""
        await self.bank.publish(f"{self.prefix}.heartbeat.bank", pack(["up", NEW, 30.0]))


@asynccontextmanager
async def stalled(server: NatsServer, prefix: str) -> AsyncIterator[tuple[Stalled, Relay]]:
    """Web, its writes held by a relay, with a tell to bank's first process waiting for room."""
    relay = Relay(server.url)
    frames: list[bytes] = []
    async with trio.open_nursery() as outer:
        port = await outer.start(relay.serve)
        transport = Nats(f"nats://127.0.0.1:{port}", prefix=prefix, heartbeat=30.0)
        async with (
            trio.open_nursery() as nursery,
            nodes(transport, "web") as (web,),
            trouper.nats.connect(server.url) as bank,
        ):

            def record(msg: Msg) -> None:
                frames.append(msg.data)

            await bank.subscribe(f"{prefix}.actor.bank.>", callback=record)
            await bank.publish(f"{prefix}.heartbeat.bank", pack(["up", OLD, 30.0]))
            cluster = cluster_of(web)
            target = web.remote("bank", "acct")
            told: list[tuple[Chunk, bool]] = []
            letters: list[DeadLetter] = []
            stop = False

            def stop_filling() -> None:
                nonlocal stop
                stop = True

            async def fill() -> None:
                n = 0
                sent = True
                while sent and not stop:
                    n += 1
                    chunk = Chunk(n.to_bytes(8, "big") + bytes(CHUNK))
                    sent = await target.tell(chunk)
                    told.append((chunk, sent))

            with trio.fail_after(20):
                await wait_for(lambda: "bank" in cluster.nodes())
            relay.hold()
            nursery.start_soon(fill)
            await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full: fill waits
            web.dead_letters.listen(letters.append)
            # (No cancel in a finally: a test's failure would give way to the Cancelled.)
            yield Stalled(web, target, told, letters, stop_filling, bank, frames, prefix), relay
            relay.release()
            nursery.cancel_scope.cancel()
        outer.cancel_scope.cancel()


async def test_a_tell_waiting_for_room_while_its_node_restarts_is_a_dead_letter(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Told to the old process: not sent to the new one, a dead letter ("node unreachable")."""
    async with stalled(cluster_server, prefix) as (stall, relay):
        waiting = len(stall.told) + 1
        stall.stop_filling()
        await stall.restarted()
        with trio.fail_after(20):
            await wait_for(lambda: len(stall.told) == waiting)
            relay.release()
            await cluster_of(stall.web).flush()
            await stall.bank.flush()  # (its answer comes after what the server has for it)
        chunk, sent = stall.told[-1]
        assert not sent
        [letter] = [letter for letter in stall.letters if letter.message == chunk]
        assert letter.reason == "node unreachable"
        assert str(letter.error) == f"actor trouper://bank/acct is unreachable: {WHY}"
        assert all(frame[8:16] != bytes.fromhex(NEW) for frame in stall.frames)


async def test_an_ask_waiting_for_room_while_its_node_restarts_fails(
    cluster_server: NatsServer, prefix: str
) -> None:
    """Made to the old process: ``NodeUnreachable`` at once, not a request to the new one."""
    async with stalled(cluster_server, prefix) as (stall, _):
        outcomes: list[object] = []

        async def ask() -> None:
            try:
                outcomes.append(await stall.target.ask(Balance()))
            except NodeUnreachable as error:
                outcomes.append(error)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked(0.2)
            assert outcomes == []
            stall.stop_filling()
            await stall.restarted()
            with trio.fail_after(5):
                await wait_for(lambda: len(outcomes) == 1)
        [error] = outcomes
        assert isinstance(error, NodeUnreachable)
        assert str(error) == f"actor trouper://bank/acct is unreachable: {WHY}"
