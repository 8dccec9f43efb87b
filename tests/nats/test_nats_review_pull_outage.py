"""Review: JetStream pulls across a connection's loss (scripted server).

A pull made before a drop is given up (and moved off: the feed takes a new
inbox, since the server may still hold it); a pull made during the outage
goes out on the next connection and stays counted. So after an outage
feeds and message streams ask for one window, not one per expiry that
passed while disconnected, and no earlier pull delivers on top of it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

import pytest
import trio
import trio.testing
from nats_fake import Peer, connected, fake_server, wait_for

from trouper.nats import (
    JsMsg,
    PullConsumer,
    PullFeed,
    RetentionPolicy,
    Status,
    StreamConfig,
    connect,
)
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

_NEXT = "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker"


async def _keep_window(feed: PullFeed, window: int) -> None:
    """Keep ``window`` messages asked for, as a durable mailbox's feed owner does."""
    feed.pull(window)
    while True:
        await feed.wait()
        room = window - feed.requested
        if room > 0 and (feed.requested == 0 or room >= window // 2):
            feed.pull(room)


async def _batches_asked(peer: Peer, quiet: float) -> int:
    """The batches of the pulls ``peer`` reads until ``quiet`` seconds pass without a command."""
    asked = 0
    while True:
        with trio.move_on_after(quiet):
            line, payload = await peer.read_command()
            if line.startswith(_NEXT):
                assert payload is not None
                asked += json.loads(payload)["batch"]
            continue
        return asked


async def test_a_feed_asks_for_one_window_after_an_outage_longer_than_its_pulls() -> None:
    """An outage outlasting a pull's expiry does not pile up pulls in the outage buffer."""
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.6, reconnect_jitter=0.0) as (nc, peer),
        ):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(
                lambda msg: None, expires=0.2, heartbeat=0.1
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_keep_window, feed, 10)
                await peer.read_until(_NEXT)
                await peer.close()
                second = await server.accept()  # 0.6 s later: three expiries
                await second.handshake()
                assert await _batches_asked(second, quiet=0.1) == 10
                nursery.cancel_scope.cancel()
            feed.close()


async def test_a_feed_waiting_learns_at_once_that_its_written_pull_was_lost() -> None:
    """``wait()`` returns when the connection drops, not two heartbeats later."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.01, reconnect_jitter=0.0) as (nc, peer),
        ):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(
                lambda msg: None, expires=30.0, heartbeat=5.0
            )
            feed.pull(4)
            await peer.read_until(_NEXT)
            returned = trio.Event()

            async def wait() -> None:
                await feed.wait()
                returned.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait)
                await trio.testing.wait_all_tasks_blocked()
                await peer.close()
                second = await server.accept()
                await second.handshake()
                with trio.fail_after(1):
                    await returned.wait()
            assert feed.requested == 0
            feed.close()


async def test_a_feed_waiting_through_an_outage_returns_at_the_reconnect() -> None:
    """A pull made in the outage stays counted, and the reconnect wakes ``wait()``."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.3, reconnect_jitter=0.0) as (nc, peer),
        ):
            feed = PullConsumer(nc.jetstream(), "ORDERS", "worker").feed(
                lambda msg: None, expires=30.0, heartbeat=5.0
            )
            await peer.close()
            await wait_for(lambda: nc.status is Status.RECONNECTING)
            feed.pull(3)
            woken_at: list[Status] = []

            async def wait() -> None:
                await feed.wait()
                woken_at.append(nc.status)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait)
                second = await server.accept()
                await second.handshake()
                await second.read_until(_NEXT)
            assert woken_at == [Status.CONNECTED]
            assert feed.requested == 3
            feed.close()


async def test_a_message_stream_asks_for_one_batch_after_an_outage_longer_than_its_pulls() -> None:
    """``consume()`` renews no pull during an outage: one batch goes out after it."""
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(server, reconnect_wait=0.6, reconnect_jitter=0.0) as (nc, peer),
        ):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            async with (
                consumer.consume(batch=10, expires=0.2) as messages,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(messages.next_msg)
                await peer.read_until(_NEXT)
                await peer.close()
                second = await server.accept()  # 0.6 s later: three expiries
                await second.handshake()
                assert await _batches_asked(second, quiet=0.1) == 10
                nursery.cancel_scope.cancel()


@asynccontextmanager
async def _cuttable(url: str) -> AsyncIterator[tuple[str, Callable[[], None]]]:
    """A TCP relay to ``url``: yields its URL and a function that cuts its connections."""
    host, port = url.removeprefix("nats://").rsplit(":", 1)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    streams: list[trio.SocketStream] = []

    async def pipe(source: trio.SocketStream, sink: trio.SocketStream) -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await source.receive_some(65536):
                await sink.send_all(data)
        await trio.aclose_forcefully(sink)

    async def relay(near: trio.SocketStream) -> None:
        far = await trio.open_tcp_stream(host, int(port))
        streams.extend((near, far))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pipe, near, far)
            nursery.start_soon(pipe, far, near)

    def cut() -> None:
        for stream in streams:
            stream.socket.close()
        streams.clear()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, relay, listeners)
        yield f"nats://127.0.0.1:{listeners[0].socket.getsockname()[1]}", cut
        nursery.cancel_scope.cancel()


async def test_a_pull_made_before_a_short_drop_delivers_nothing_after_the_reconnect(
    nats_server: NatsServer,
) -> None:
    """The server still holds the pull when the client is back; it must not deliver to it."""
    got: list[JsMsg] = []
    with trio.fail_after(10):
        async with (
            _cuttable(nats_server.url) as (url, cut),
            connect(url, reconnect_wait=0.05, reconnect_jitter=0.0) as nc,
        ):
            js = nc.jetstream()
            name = "REVIEWDROP"
            await js.add_stream(
                StreamConfig(name, subjects=[f"{name}.>"], retention=RetentionPolicy.WORK_QUEUE)
            )
            try:
                consumer = await js.pull_subscribe(name, "worker")
                feed = consumer.feed(got.append, expires=30.0, heartbeat=5.0)
                feed.pull(5)
                await nc.flush()  # the server holds the pull
                cut()
                await feed.wait()
                assert feed.requested == 0
                feed.pull(5)  # the owner asks again, during the outage
                await wait_for(lambda: nc.status is Status.CONNECTED)
                async with js.publish_pipeline() as pipe:
                    for n in range(20):
                        await pipe.publish(f"{name}.x", str(n).encode())
                await wait_for(lambda: len(got) >= 5)
                await trio.sleep(0.3)  # time for more to come, if another pull were live
                assert len(got) == 5
                feed.close()
            finally:
                await js.delete_stream(name)
