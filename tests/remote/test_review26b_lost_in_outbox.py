"""What a node's outbox still holds when it leaves is lost, and says so, and is counted unsent.

Web's writes go through a relay that holds them, so its connection's write
buffer fills and what web sends next waits in its outbox. The clock stands
still unless the test jumps it: leaving gives the outbox 1 s of virtual time.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing
from remote_support import Note, Notes
from test_remote_review6_watch_behind_backlog import settle
from test_remote_review_full_buffer import CHUNK, Chunk

import trouper
import trouper.nats
from relay_support import Relay
from trouper import DeadLetter
from trouper.errors import NodeUnreachable
from trouper.nats import MaxPayloadExceeded
from trouper.remote import Nats, cluster_of
from trouper.remote.wire import pack
from trouper.testing import NatsServer

GHOST = "ef" * 8
"""The incarnation of node "ghost", a bare NATS client that beats once and says goodbye."""


@asynccontextmanager
async def bank_and_ghost(
    url: str, prefix: str, relay: Relay | None = None
) -> AsyncIterator[tuple[Relay, str, trouper.Runtime, trouper.nats.Client, list[object]]]:
    """A relay to the server and its URL, node bank (a ``Notes`` actor "acct"), ghost (a client)."""
    seen: list[object] = []
    relay = Relay(url) if relay is None else relay
    async with trio.open_nursery() as outer:
        port = await outer.start(relay.serve)
        far = Nats(url, prefix=prefix, heartbeat=1.0)
        async with (
            trouper.open_runtime(node="bank", transport=far) as bank,
            trouper.nats.connect(url) as ghost,
        ):
            await bank.spawn(Notes, seen, name="acct")
            try:
                yield relay, f"nats://127.0.0.1:{port}", bank, ghost, seen
            finally:
                relay.cut()  # (what it held is the bytes of a client that has gone: dropped)
                relay.release()
        outer.cancel_scope.cancel()


async def fill_write_buffer(web: trouper.Runtime, ghost: trouper.nats.Client, prefix: str) -> None:
    """Fill web's write buffer (held by the relay) with tells to ghost, then let ghost leave.

    Its goodbye takes ghost's tells off web's outbox: what web queues next
    waits there, behind the full write buffer, in an outbox with room.
    """
    target = web.remote("ghost", "sink")

    async def fill() -> None:
        while await target.tell(Chunk(bytes(CHUNK))):
            pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fill)
        await trio.testing.wait_all_tasks_blocked(0.2)  # the outbox is full
        await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["bye", GHOST]))


async def test_an_ask_and_a_tell_still_queued_when_the_node_leaves_say_it_left(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """The ask fails with ``NodeUnreachable`` ("this node left the cluster"), as the tell's dead
    letter says; both are counted unsent (they were counted sent when queued)."""
    url = cluster_server.url
    outcomes: list[BaseException] = []
    letters: list[DeadLetter] = []
    async with bank_and_ghost(url, prefix) as (relay, relayed, _bank, ghost, seen):
        near = Nats(relayed, prefix=prefix, heartbeat=1.0)
        async with (
            trio.open_nursery() as tasks,  # (outlives web: its ask fails as web leaves)
            trouper.open_runtime(node="web", transport=near) as web,
        ):
            cluster = cluster_of(web)
            await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["up", GHOST, 1.0]))
            await settle(lambda: cluster.nodes() == ("bank", "ghost", "web"))
            relay.hold()
            try:  # (released if it fails first: leaving would wait for the server)
                await fill_write_buffer(web, ghost, prefix)
                web.dead_letters.listen(letters.append)
                acct = web.remote("bank", "acct")
                before = cluster.statistics()

                async def ask() -> None:
                    try:
                        await acct.ask(Note("asked"))
                    except NodeUnreachable as error:
                        outcomes.append(error)

                assert await acct.tell(Note("told"))  # the ask joins its batch
                tasks.start_soon(ask)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the ask waits in the outbox
                assert outcomes == []
                assert cluster.statistics().sent == before.sent + 2

                async def jump() -> None:  # past leaving's bounds (1 s to hand on, 1 s to close)
                    for _ in range(3):
                        await trio.testing.wait_all_tasks_blocked(0.2)
                        mock_clock.jump(1.1)

                tasks.start_soon(jump)
            except BaseException:
                relay.release()
                raise
        # (web has left)
        assert [str(error) for error in outcomes] == [
            "actor trouper://bank/acct is unreachable: this node left the cluster"
        ]
        assert [(letter.message, str(letter.error)) for letter in letters] == [
            (Note("told"), "actor trouper://bank/acct is unreachable: this node left the cluster")
        ]
        assert cluster.statistics().unsent == before.unsent + 2
        assert seen == []


class InjectingRelay(Relay):
    """A ``Relay`` that can also send its clients bytes of its own, as if from the server."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # Each client's end of the relay, and the lock its writes take turns with.
        self.clients: list[tuple[trio.SocketStream, trio.Lock]] = []

    async def pump(self, source: trio.SocketStream, sink: trio.SocketStream, out: bool) -> None:
        """Relay as ``Relay`` does; the server's writes to a client take turns with ``inject``."""
        if out:
            await super().pump(source, sink, out)
            return
        lock = trio.Lock()
        self.clients.append((sink, lock))
        async for data in source:
            async with lock:
                await sink.send_all(data)

    async def inject(self, data: bytes) -> None:
        """Send ``data`` to every client, between two of the server's writes."""
        for sink, lock in self.clients:
            async with lock:
                await sink.send_all(data)


async def test_a_batch_over_a_max_payload_lowered_since_it_was_queued_says_so(
    cluster_server: NatsServer, prefix: str, mock_clock: trio.testing.MockClock
) -> None:
    """Its ask fails with ``MaxPayloadExceeded``, not "connection down"; its tell's dead letter
    says it was not sent and why; both are counted unsent.

    The server announces a smaller ``max_payload`` (an INFO, as after a
    configuration reload) while the batch waits behind the full write buffer.
    """
    url = cluster_server.url
    outcomes: list[BaseException] = []
    answered: list[object] = []
    letters: list[DeadLetter] = []
    relay = InjectingRelay(url)
    async with bank_and_ghost(url, prefix, relay) as (_, relayed, _bank, ghost, seen):
        near = Nats(relayed, prefix=prefix, heartbeat=1.0)
        async with (
            trouper.open_runtime(node="web", transport=near) as web,
            trio.open_nursery() as tasks,
        ):
            cluster = cluster_of(web)
            await ghost.publish(f"{prefix}.heartbeat.ghost", pack(["up", GHOST, 1.0]))
            await settle(lambda: cluster.nodes() == ("bank", "ghost", "web"))
            relay.hold()
            try:  # (released whatever happens: leaving would wait for the server)
                await fill_write_buffer(web, ghost, prefix)
                web.dead_letters.listen(letters.append)
                acct = web.remote("bank", "acct")
                before = cluster.statistics()

                async def ask(text: str) -> None:
                    try:
                        answered.append(await acct.ask(Note(text)))
                    except (MaxPayloadExceeded, NodeUnreachable) as error:
                        outcomes.append(error)

                assert await acct.tell(Note("told"))  # the ask joins its batch
                tasks.start_soon(ask, "x" * 2000)
                await trio.testing.wait_all_tasks_blocked(0.2)  # the ask waits in the outbox
                await relay.inject(b'INFO {"max_payload":1024}\r\n')
                await trio.testing.wait_all_tasks_blocked(0.2)
                # The tells to ghost still in the connection's write buffer were dropped by
                # the client (over 1024 bytes): dead letters, counted unsent (review 26c).
                to_ghost = [letter for letter in letters if letter.recipient.node == "ghost"]
                assert cluster_of(web).statistics().unsent == before.unsent + len(to_ghost)
                letters.clear()
                before = cluster.statistics()
                tasks.start_soon(ask, "small")  # it publishes what is queued before it, if it can
                await trio.testing.wait_all_tasks_blocked(0.2)
                assert [type(error) for error in outcomes] == [MaxPayloadExceeded]
                (refused,) = outcomes
                assert re.fullmatch(
                    r"message of \d+ bytes exceeds the server's max_payload of 1024", str(refused)
                )
                assert [(letter.message, str(letter.error)) for letter in letters] == [
                    (
                        Note("told"),
                        f"actor trouper://bank/acct is unreachable: it was not sent: {refused} "
                        "(lowered since it was queued)",
                    )
                ]
                assert cluster.statistics().unsent == before.unsent + 2
            finally:
                relay.release()
            await settle(lambda: answered != [])
        assert answered == [None]
        assert seen == ["small"]
