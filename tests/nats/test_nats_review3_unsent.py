"""Review 3: what a broken connection had not taken goes out after the reconnect (scripted server).

The scripted server stops reading, so the client's socket fills and its last send stops part
way; the server then makes the client drop the connection (a fatal ``-ERR``). The client closes
its side, so everything its socket took still reaches the server, which reads the old
connection to its end: what came there whole and what comes on the new connection must be
every accepted command, each once, in order.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable

import pytest
import trio
import trio.testing
from nats_fake import FakeServer, Peer, connected, fake_server, wait_for

from trouper.nats import Client, ConnectionLost, OutboundBufferFull, Status

pytestmark = pytest.mark.real_clock

OPTIONS: dict[str, object] = {
    "write_buffer_size": 64 * 1024,
    "reconnect_buffer_size": 256 * 1024,
    "reconnect_wait": 0.01,
    "reconnect_jitter": 0.0,
    # The client's reconnection waits in the listener's backlog while the test reads the
    # old connection to its end (about 0.1 s for hundreds of kilobytes of SUB lines, far
    # more on a busy machine). With a finite timeout the client gave that attempt up and
    # the test then accepted the abandoned socket (EOFError in the handshake); the tests'
    # own fail_after bounds the wait instead.
    "connect_timeout": math.inf,
}


def payload(n: int, size: int = 1024) -> bytes:
    """Message ``n``: its number, padded to ``size`` bytes."""
    return b"%08d" % n + b"x" * (size - 8)


def number(data: bytes | None) -> int:
    """The number of a message made by ``payload``."""
    assert data is not None
    return int(data[:8])


async def expect_lost_flush(nc: Client) -> None:
    """A flush whose PING was written before the drop fails with ConnectionLost."""
    with pytest.raises(ConnectionLost):
        await nc.flush()


async def fill_until_full(nc: Client, peer: Peer, batch: Callable[[int], None]) -> None:
    """Run ``batch`` (then a flush, left to fail) until the write buffer refuses more.

    The server reads nothing, so the socket fills and the client's last send stops part way.
    """
    async with trio.open_nursery() as nursery:
        n = 0
        while True:
            await trio.testing.wait_all_tasks_blocked()
            try:
                batch(n)
            except OutboundBufferFull:
                break
            n += 1
            nursery.start_soon(expect_lost_flush, nc)
        # A fatal -ERR: the client drops the connection and closes its end.
        await peer.send(b"-ERR 'Stale Connection'\r\n")
        await wait_for(lambda: nc.status is Status.RECONNECTING)


async def whole_commands_until_eof(peer: Peer) -> list[tuple[str, bytes | None]]:
    """Every command of the old connection that arrived whole (a cut last one is left out)."""
    commands: list[tuple[str, bytes | None]] = []
    while True:
        try:
            commands.append(await peer.read_command())
        except EOFError:
            return commands


async def serve_second_connection(
    server: FakeServer, done: Callable[[list[tuple[str, bytes | None]]], bool]
) -> tuple[Peer, list[tuple[str, bytes | None]]]:
    """Accept the reconnection and read its commands (answering PINGs) until ``done`` says so."""
    second = await server.accept()
    await second.handshake()
    commands: list[tuple[str, bytes | None]] = []
    while not done(commands):
        line, data = await second.read_command()
        if line == "PING":
            await second.send(b"PONG\r\n")
        commands.append((line, data))
    return second, commands


@pytest.mark.parametrize(
    ("size", "per_round", "outage_buffer"),
    [
        pytest.param(1024, 8, 256 * 1024, id="small-messages-cut-in-the-writer-s-send"),
        pytest.param(1000 * 1024, 1, 4 << 20, id="large-messages-cut-in-a-direct-send"),
    ],
)
async def test_publishes_cut_off_by_a_drop_arrive_after_the_reconnect_once_in_order(
    size: int, per_round: int, outage_buffer: int
) -> None:
    """Every accepted publish reaches the server once, in order, across the drop."""
    accepted: list[int] = []

    def publish_batch(n: int) -> None:
        for _ in range(per_round):
            nc.publish_nowait("n", payload(len(accepted), size))
            accepted.append(len(accepted))

    with trio.fail_after(30):
        async with (
            fake_server() as server,
            connected(server, **{**OPTIONS, "reconnect_buffer_size": outage_buffer}) as (nc, first),
        ):
            await fill_until_full(nc, first, publish_batch)
            before_outage = len(accepted)
            with contextlib.suppress(OutboundBufferFull):  # the outage buffer fills too
                while True:
                    publish_batch(0)
            assert len(accepted) > before_outage
            last = accepted[-1]
            flushed = trio.Event()

            async def flush() -> None:
                await nc.flush()
                flushed.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(flush)
                old = await whole_commands_until_eof(first)
                second, new = await serve_second_connection(
                    server, lambda commands: any(number(d) == last for _, d in commands if d)
                )
                # The next PING is the flush's: its PONG, not a stale one, ends the flush.
                assert await second.read_line() == "PING"
                await trio.testing.wait_all_tasks_blocked()
                assert not flushed.is_set()
                await second.send(b"PONG\r\n")
    published = [number(data) for line, data in old + new if line.startswith("PUB ")]
    assert published == accepted


@pytest.mark.parametrize("padding", range(0, 12, 3))
async def test_a_subscription_cut_off_by_a_drop_is_subscribed_once_after_the_reconnect(
    padding: int,
) -> None:
    """A SUB (with its UNSUB for max_msgs) the old connection did not take goes out once."""
    sids: list[int] = []

    def subscribe_and_publish(n: int) -> None:
        # Mostly SUB and UNSUB pairs, so that the cut often falls in one; where it
        # falls in them depends on the subject's length.
        nc.publish_nowait("n", payload(n))
        for _ in range(200):
            sub = nc.subscribe_nowait("s" * (padding + 1), callback=lambda msg: None, max_msgs=5)
            sids.append(sub.sid)

    with trio.fail_after(30):
        async with fake_server() as server, connected(server, **OPTIONS) as (nc, first):
            await fill_until_full(nc, first, subscribe_and_publish)
            nc.publish_nowait("end")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(nc.flush)
                await whole_commands_until_eof(first)
                second, new = await serve_second_connection(
                    server, lambda commands: bool(commands) and commands[-1][0] == "PUB end 0"
                )
                assert await second.read_line() == "PING"
                await second.send(b"PONG\r\n")
    subscribed = Counter(line.split()[-1] for line, _ in new if line.startswith("SUB "))
    limited = Counter(line for line, _ in new if line.startswith("UNSUB "))
    assert {sid: subscribed[str(sid)] for sid in sids} == dict.fromkeys(sids, 1)
    assert {sid: limited[f"UNSUB {sid} 5"] for sid in sids} == dict.fromkeys(sids, 1)


async def answer_requests(peer: Peer) -> None:
    """Play the server of a new connection: answer PINGs and every request on ``svc``."""
    inbox_sid = ""
    while True:
        line, _ = await peer.read_command()
        fields = line.split()
        if line == "PING":
            await peer.send(b"PONG\r\n")
        elif fields[0] == "SUB" and fields[1].startswith("_INBOX."):
            inbox_sid = fields[-1]
        elif fields[0] == "PUB" and fields[1] == "svc":
            await peer.send(f"MSG {fields[2]} {inbox_sid} 2\r\nok\r\n".encode())


async def test_a_request_cut_off_by_a_drop_is_sent_again_and_answered() -> None:
    """A request the old connection took whole fails at the drop; one it did not is answered."""
    outcomes: dict[int, str] = {}
    asked: list[int] = []

    async def ask(n: int) -> None:
        try:
            await nc.request("svc", b"%d" % n)
        except ConnectionLost:
            outcomes[n] = "lost"
        else:
            outcomes[n] = "answered"

    with trio.fail_after(30):
        async with (
            fake_server() as server,
            connected(server, **OPTIONS) as (nc, first),
            trio.open_nursery() as serving,
        ):
            async with trio.open_nursery() as requests:

                def ask_and_publish(n: int) -> None:
                    for _ in range(6):
                        nc.publish_nowait("n", payload(n))
                    requests.start_soon(ask, n)
                    asked.append(n)

                await fill_until_full(nc, first, ask_and_publish)
                old = await whole_commands_until_eof(first)
                second = await server.accept()
                await second.handshake()
                serving.start_soon(answer_requests, second)
            serving.cancel_scope.cancel()
    written_whole = {int(data or b"") for line, data in old if line.startswith("PUB svc ")}
    assert {n for n, outcome in outcomes.items() if outcome == "lost"} == written_whole
    assert sorted(outcomes) == asked
