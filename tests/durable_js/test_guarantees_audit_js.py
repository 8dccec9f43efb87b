"""Promises of docs/durable.md's JetStream section that no other test pinned."""

from __future__ import annotations

import json

import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, GiveUp, Received, Retry, WriteBatch, durable_ref
from trouper.errors import StoreError
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


async def test_retries_do_not_count_toward_max_deliveries_when_an_error_follows(
    js_server: NatsServer, prefix: str
) -> None:
    """Guarantee 11 on JetStream: after two Retries, an error with max_deliveries=2 is retried."""
    plan: dict[int, BaseException] = {1: Retry(after=0.2), 2: Retry(after=0.2), 3: KeyError("x")}
    attempts: list[int] = []

    class Later(trouper.Actor):
        @trouper.handler
        async def job(self, message: Job) -> None:
            delivery = self.ctx.delivery
            assert isinstance(delivery, Delivery)
            attempts.append(delivery.attempt)
            error = plan.get(delivery.attempt)
            if error is not None:
                raise error

    options = Durable(max_deliveries=2, backoff=(0.2,))
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Later, name="jobs", mailbox=options)
        await ref.tell(Job(1))
        await eventually(lambda: len(attempts) >= 4)
        await trio.sleep(0.3)
        dead = [record async for record in rt.store.dead_letters("jobs")]
    assert (attempts, dead) == ([1, 2, 3, 4], [])


class Collect(trouper.Actor):
    """Records each job's number."""

    def __init__(self, got: list[int]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        if message.n < 0:
            raise GiveUp("negative")
        self.got.append(message.n)


async def test_a_mailbox_name_nats_would_misread_is_escaped_and_named_back(
    js_server: NatsServer, prefix: str
) -> None:
    """Layout: a name with a dot, ``_`` and non-ASCII works and is reported by its name."""
    name = "orders.eu_ü-1"
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Collect, got, name=name, mailbox=Durable())
        await ref.tell(Job(1))
        await ref.tell(Job(-1))
        await eventually(lambda: got == [1])
        dead: list[object] = []
        with trio.fail_after(10):
            while not dead:
                await trio.sleep(0.05)
                dead = [record.message async for record in rt.store.dead_letters(name)]
        boxes = await rt.store.mailbox_statistics()
    assert ([box.name for box in boxes], dead) == ([name], [Job(-1)])


async def test_stores_with_different_prefixes_on_one_server_do_not_see_each_other(
    js_server: NatsServer, prefix: str
) -> None:
    """Layout: a mailbox of the same name under another prefix is another mailbox."""
    got_a: list[int] = []
    got_b: list[int] = []
    async with (
        trouper.open_runtime(store=store_for(js_server.url, f"{prefix}a")) as a,
        trouper.open_runtime(store=store_for(js_server.url, f"{prefix}a-b")) as b,
    ):
        await b.spawn(Collect, got_b, name="jobs", mailbox=Durable())
        ref = await a.spawn(Collect, got_a, name="jobs", mailbox=Durable())
        await ref.tell(Job(1))
        await ref.tell(Job(-1))
        await eventually(lambda: got_a == [1])
        await trio.sleep(0.3)
        dead_a = [record.message async for record in a.store.dead_letters()]
        dead_b = [record.message async for record in b.store.dead_letters()]
        boxes_b = await b.store.mailbox_statistics()
    assert (got_b, dead_a, dead_b) == ([], [Job(-1)], [])
    assert [(box.name, box.depth, box.dead) for box in boxes_b] == [("jobs", 0, 0)]


async def test_flush_returns_once_every_staged_tell_is_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """JetStream 6: after ``flush``, every ``tell_nowait`` made before it is on the server."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "later")
        for n in range(50):
            ref.tell_nowait(Job(n))
        await rt.store.flush()
        boxes = await rt.store.mailbox_statistics()
    assert [(box.name, box.depth) for box in boxes] == [("later", 50)]


async def _old_server(listeners: list[trio.SocketListener], version: str) -> None:
    """Speak just enough NATS for a client to connect: INFO of ``version``, PONG to each PING."""

    async def serve(stream: trio.SocketStream) -> None:
        info = {"server_id": "old", "version": version, "jetstream": True, "proto": 1}
        await stream.send_all(f"INFO {json.dumps(info)}\r\n".encode())
        buffer = b""
        async for data in stream:
            buffer += data
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                if line.startswith(b"PING"):
                    await stream.send_all(b"PONG\r\n")

    await trio.serve_listeners(serve, listeners)


@pytest.mark.parametrize("version", ["2.9.25", "1.4.1", "2.\u00b2"])
async def test_open_runtime_refuses_a_server_older_than_2_10(version: str) -> None:
    """Sync to disk: a server older than 2.10 (no ``sync_interval: always``) is refused."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_old_server, listeners, version)
        with (
            trio.fail_after(10),  # a store that does not refuse waits for JetStream's answers
            pytest.raises(StoreError, match=rf"nats-server {version} is too old"),
        ):
            async with trouper.open_runtime(store=store_for(f"nats://127.0.0.1:{port}", "p")):
                pass
        nursery.cancel_scope.cancel()


async def test_a_message_dead_lettered_twice_is_stored_once(
    js_server: NatsServer, prefix: str
) -> None:
    """Dead letters: the key is derived from the message, so a rerun's second burial is dropped."""
    received: list[Received] = []
    came = trio.Event()

    def deliver(message: Received) -> None:
        received.append(message)
        came.set()

    async with store_for(js_server.url, prefix) as store:
        feed = await store.open_feed("jobs", Durable(), deliver)
        batch = WriteBatch()
        batch.append("jobs", "js-test.job", b"\x91\x01")
        await store.submit(batch)
        feed.pull(1)
        with trio.fail_after(10):
            await came.wait()
        (message,) = received
        for _ in range(2):  # the first +TERM lost: the message ran again and was buried again
            burial = WriteBatch()
            store.bury(
                burial,
                "jobs",
                message,
                reason="gave up: twice",
                traceback=None,
                deliveries=1,
                first_delivered_at=None,
                last_delivered_at=None,
            )
            await store.submit(burial)
        feed.close()
        dead = [record.reason async for record in store.dead_letters("jobs")]
    assert dead == ["gave up: twice"]
