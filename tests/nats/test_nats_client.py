"""The client against a real nats-server: pub/sub, queue groups, request/reply, limits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
from nats_fake import wait_for

from trouper.nats import (
    AsyncError,
    ClientEvent,
    Closed,
    ConnectionClosed,
    Headers,
    MaxPayloadExceeded,
    Msg,
    NoResponders,
    OutboundBufferFull,
    SlowConsumer,
    Status,
    SubscriptionClosed,
    connect,
)
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


def collector(seen: list[bytes]) -> Callable[[Msg], None]:
    """A callback that appends each message's data to ``seen``."""
    return lambda msg: seen.append(msg.data)


async def test_handshake_reads_the_server_info(nats_server: NatsServer) -> None:
    """After connect() the client is connected and knows the server's limits."""
    with trio.fail_after(5):
        async with connect(nats_server.url, name="t") as nc:
            assert nc.status is Status.CONNECTED
            assert nc.connected_url == f"127.0.0.1:{nats_server.port}"
            assert nc.max_payload == nc.server_info["max_payload"] == 1024 * 1024
            assert nc.server_info["headers"] is True


async def test_publish_reaches_a_subscriber(nats_url: str) -> None:
    """A published payload arrives unchanged, with its reply subject."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("greet.*")
            await nc.publish("greet.joe", b"hello", reply="back")
            msg = await sub.next_msg()
    assert msg == Msg("greet.joe", "back", b"hello")


async def test_headers_travel_with_repeats(nats_url: str) -> None:
    """Headers published with repeated names arrive with every value, in order."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("h")
            await nc.publish("h", b"body", headers={"Trace": ["a", "b"], "Kind": "x"})
            msg = await sub.next_msg()
    assert msg.data == b"body"
    assert msg.headers == Headers([("Trace", "a"), ("Trace", "b"), ("Kind", "x")])


async def test_async_iteration_reads_in_order(nats_url: str) -> None:
    """``async for`` yields the messages in publish order."""
    seen: list[bytes] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("seq", max_msgs=50)
            for n in range(50):
                await nc.publish("seq", str(n).encode())
            async for msg in sub:
                seen.append(msg.data)
    assert seen == [str(n).encode() for n in range(50)]


async def test_callback_is_called_in_order_by_the_reader(nats_url: str) -> None:
    """A plain callback gets every message in order, with nothing buffered."""
    seen: list[bytes] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("cb", callback=lambda msg: seen.append(msg.data))
            for n in range(20):
                await nc.publish("cb", str(n).encode())
            await nc.flush()
            await wait_for(lambda: len(seen) == 20)
            assert sub.statistics().pending_msgs == 0
    assert seen == [str(n).encode() for n in range(20)]


async def test_queue_group_gives_each_message_to_one_member(nats_url: str) -> None:
    """Members of one queue group share the messages: each arrives exactly once in all."""
    got: dict[str, list[bytes]] = {"a": [], "b": [], "c": []}
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            for seen in got.values():
                await nc.subscribe("jobs", queue="workers", callback=collector(seen))
            await nc.flush()
            for n in range(300):
                await nc.publish("jobs", str(n).encode())
            await nc.flush()
            await wait_for(lambda: sum(map(len, got.values())) == 300)
    everything = sorted(int(d) for seen in got.values() for d in seen)
    assert everything == list(range(300))
    assert sum(1 for seen in got.values() if seen) >= 2


async def test_unsubscribe_stops_delivery(nats_url: str) -> None:
    """After unsubscribe() nothing more arrives; iteration ends once the buffer is read."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("u")
            await nc.publish("u", b"before")
            await nc.flush()
            await sub.unsubscribe()
            await nc.publish("u", b"after")
            await nc.flush()
            assert [msg.data async for msg in sub] == [b"before"]
            assert not sub.active


async def test_max_msgs_ends_the_subscription_after_n(nats_url: str) -> None:
    """With max_msgs=3 the subscription takes three messages and ends."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("m", max_msgs=3)
            for n in range(6):
                await nc.publish("m", str(n).encode())
            await nc.flush()
            assert [msg.data async for msg in sub] == [b"0", b"1", b"2"]
            with pytest.raises(SubscriptionClosed, match=r"^subscription \d+ \('m'\) has ended$"):
                await sub.next_msg()


async def test_request_gets_the_reply(nats_url: str) -> None:
    """request() returns the responder's answer."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            await nc.subscribe("double", callback=lambda m: m.respond_nowait(m.data * 2))
            replies = [await nc.request("double", str(n).encode()) for n in range(3)]
    assert [reply.data for reply in replies] == [b"00", b"11", b"22"]


async def test_concurrent_requests_get_their_own_replies(nats_url: str) -> None:
    """Many requests in flight over the one inbox each get the reply to their own question."""
    answers: dict[int, bytes] = {}
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("echo")

            async def responder() -> None:
                async for msg in sub:
                    await msg.respond(b"re:" + msg.data)

            async def ask(n: int) -> None:
                answers[n] = (await nc.request("echo", str(n).encode())).data

            async with trio.open_nursery() as nursery:
                nursery.start_soon(responder)
                async with trio.open_nursery() as askers:
                    for n in range(40):
                        askers.start_soon(ask, n)
                nursery.cancel_scope.cancel()
    assert answers == {n: f"re:{n}".encode() for n in range(40)}


async def test_request_deadline_is_the_callers_cancel_scope(nats_url: str) -> None:
    """A request nobody answers ends with the caller's deadline, not a timeout parameter."""
    async with connect(nats_url) as nc:
        await nc.subscribe("silent")
        await nc.flush()
        start = trio.current_time()
        with trio.move_on_after(0.2) as scope:
            await nc.request("silent", b"?")
        assert scope.cancelled_caught
        assert 0.2 <= trio.current_time() - start < 2
        with trio.fail_after(5):
            await nc.flush()


async def test_request_without_responders_raises_no_responders(nats_url: str) -> None:
    """A request on a subject nobody listens to fails at once with NoResponders."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            with pytest.raises(NoResponders, match=r"^no responders on subject 'nobody\.home'$"):
                await nc.request("nobody.home", b"?")


async def test_payload_over_max_payload_is_refused_before_sending() -> None:
    """A publish over the server's max_payload raises and nothing is sent."""
    with NatsServer(max_payload=1024, jetstream=False) as server, trio.fail_after(5):
        async with connect(server.url) as nc:
            sub = await nc.subscribe("big")
            with pytest.raises(
                MaxPayloadExceeded,
                match=r"^message of 1025 bytes exceeds the server's max_payload of 1024$",
            ):
                await nc.publish("big", b"x" * 1025)
            with pytest.raises(MaxPayloadExceeded):
                await nc.publish("big", b"x" * 1000, headers={"Pad": "y" * 40})
            await nc.publish("big", b"fits")
            await nc.flush()
            assert nc.statistics().out_msgs == 1
            assert (await sub.next_msg()).data == b"fits"


async def test_slow_consumer_drops_are_counted_and_reported_once(nats_url: str) -> None:
    """Past the pending limit messages are dropped, counted, and reported once per run."""
    events: list[ClientEvent] = []
    with trio.fail_after(5):
        async with connect(nats_url, on_event=events.append) as nc:
            sub = await nc.subscribe("slow", pending_msgs_limit=2)
            for n in range(5):
                await nc.publish("slow", str(n).encode())
            await nc.flush()
            stats = sub.statistics()
            kept = [(await sub.next_msg()).data for _ in range(2)]
            assert nc.statistics().dropped == 3
    assert (stats.delivered, stats.pending_msgs, stats.dropped) == (5, 2, 3)
    assert kept == [b"0", b"1"]
    reports = [e for e in events if isinstance(e, AsyncError)]
    assert len(reports) == 1
    assert isinstance(reports[0], AsyncError)
    assert isinstance(reports[0].error, SlowConsumer)
    assert reports[0].error.dropped == 1


async def test_pending_bytes_limit_also_drops(nats_url: str) -> None:
    """A message that would take the buffer past pending_bytes_limit is dropped."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("bytes", pending_bytes_limit=10)
            await nc.publish("bytes", b"123456")
            await nc.publish("bytes", b"123456")
            await nc.flush()
            assert sub.statistics().dropped == 1
            assert sub.statistics().pending_bytes == 6


async def test_drain_lets_buffered_messages_be_read_then_closes(nats_url: str) -> None:
    """drain() waits until the reader took every buffered message, then the client is closed."""
    read: list[bytes] = []
    events: list[ClientEvent] = []
    with trio.fail_after(5):
        async with connect(nats_url, on_event=events.append) as nc:
            sub = await nc.subscribe("d")
            for n in range(10):
                await nc.publish("d", str(n).encode())
            await nc.flush()

            async def reader() -> None:
                async for msg in sub:
                    read.append(msg.data)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                await nc.drain()
            assert nc.status is Status.CLOSED
    assert read == [str(n).encode() for n in range(10)]
    assert events == [Closed(None)]


async def test_closed_client_refuses_operations(nats_url: str) -> None:
    """After close() every operation raises ConnectionClosed; subscriptions end."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("c")
            await nc.close()
            with pytest.raises(ConnectionClosed, match=r"^the client is closed$"):
                await nc.publish("c", b"x")
            with pytest.raises(ConnectionClosed):
                await nc.subscribe("c")
            with pytest.raises(ConnectionClosed):
                await nc.flush()
            assert [msg async for msg in sub] == []
            await nc.close()


async def test_close_writes_what_is_buffered(nats_url: str) -> None:
    """Publishes made just before close() still reach the server."""
    with trio.fail_after(5):
        async with connect(nats_url) as listener:
            sub = await listener.subscribe("last", max_msgs=100)
            await listener.flush()
            async with connect(nats_url) as nc:
                for n in range(100):
                    await nc.publish("last", str(n).encode())
            assert len([msg async for msg in sub]) == 100


async def test_statistics_count_messages_and_bytes(nats_url: str) -> None:
    """in/out messages and payload bytes are counted."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("count")
            for _ in range(4):
                await nc.publish("count", b"abc")
            await nc.flush()
            for _ in range(4):
                await sub.next_msg()
            stats = nc.statistics()
    assert (stats.out_msgs, stats.out_bytes, stats.in_msgs, stats.in_bytes) == (4, 12, 4, 12)
    assert (stats.reconnects, stats.dropped, stats.buffered_bytes) == (0, 0, 0)


async def test_no_echo_skips_our_own_publishes(nats_url: str) -> None:
    """With no_echo the client does not receive what it published itself."""
    with trio.fail_after(5):
        async with connect(nats_url, no_echo=True) as nc, connect(nats_url) as other:
            sub = await nc.subscribe("e")
            await nc.flush()
            await nc.publish("e", b"mine")
            await other.publish("e", b"theirs")
            await other.flush()
            await nc.flush()
            assert (await sub.next_msg()).data == b"theirs"
            assert sub.statistics().pending_msgs == 0


async def test_invalid_subjects_are_refused(nats_url: str) -> None:
    """A subject with a space never reaches the wire."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            with pytest.raises(ValueError, match="subject must be non-empty"):
                await nc.publish("a b", b"")
            with pytest.raises(ValueError, match="subject must be non-empty"):
                await nc.subscribe("a..b")
            await nc.flush()


async def test_connect_refuses_bad_options() -> None:
    """Misused options raise ValueError naming the option."""
    with pytest.raises(ValueError, match=r"^ping_interval must be seconds > 0, got -1$"):
        async with connect("nats://127.0.0.1:1", ping_interval=-1):
            pass
    with pytest.raises(ValueError, match="must use nats:// or tls://"):
        async with connect("http://127.0.0.1:1"):
            pass
    with pytest.raises(ValueError, match="pending_msgs_limit must be an int >= 1"):
        async with connect("nats://127.0.0.1:1", pending_msgs_limit=0):
            pass


async def test_callback_error_leaves_the_async_with(nats_url: str) -> None:
    """A callback that raises closes the client; the error leaves connect()'s block."""

    def broken(msg: Msg) -> None:
        raise KeyError(msg.subject)

    with (
        trio.fail_after(5),
        pytest.RaisesGroup(pytest.RaisesExc(KeyError, match="'boom'"), flatten_subgroups=True),
    ):
        async with connect(nats_url) as nc:
            await nc.subscribe("boom", callback=broken)
            await nc.publish("boom", b"")
            await trio.sleep_forever()


async def test_respond_needs_a_reply_subject(nats_url: str) -> None:
    """Responding to a message without a reply subject raises ValueError."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("plain")
            await nc.publish("plain", b"")
            msg = await sub.next_msg()
            with pytest.raises(ValueError, match=r"^message on 'plain' has no reply subject$"):
                await msg.respond(b"")


async def test_publish_waits_when_the_write_buffer_is_over_its_bound(nats_url: str) -> None:
    """With a small write buffer, publish waits for the writer: the buffer stays bounded."""
    limit = 1000
    largest = 0
    with trio.fail_after(10):
        async with connect(nats_url, write_buffer_size=limit) as nc:
            sub = await nc.subscribe("bp", max_msgs=500, pending_msgs_limit=1000)
            for _ in range(500):
                await nc.publish("bp", b"x" * 100)
                largest = max(largest, nc.statistics().buffered_bytes)
            assert len([msg async for msg in sub]) == 500
    assert largest <= limit + 120


async def test_publish_nowait_refuses_when_the_write_buffer_is_full(nats_url: str) -> None:
    """publish_nowait raises OutboundBufferFull instead of waiting for the writer."""
    with trio.fail_after(5):
        async with connect(nats_url, write_buffer_size=10) as nc:
            nc.publish_nowait("nw", b"x" * 20)
            with pytest.raises(OutboundBufferFull):
                nc.publish_nowait("nw", b"y")
            await nc.flush()
            nc.publish_nowait("nw", b"z")


async def test_subscription_drain_reads_what_was_delivered(nats_url: str) -> None:
    """sub.drain() stops delivery and returns once the buffered messages were read."""
    read: list[bytes] = []
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("sd")
            for n in range(5):
                await nc.publish("sd", str(n).encode())
            async with trio.open_nursery() as nursery:

                async def reader() -> None:
                    async for msg in sub:
                        read.append(msg.data)

                nursery.start_soon(reader)
                await sub.drain()
            await nc.publish("sd", b"late")
            await nc.flush()
    assert read == [str(n).encode() for n in range(5)]


async def test_callback_subscription_cannot_be_read(nats_url: str) -> None:
    """next_msg() on a callback subscription raises ValueError."""
    with trio.fail_after(5):
        async with connect(nats_url) as nc:
            sub = await nc.subscribe("cbonly", callback=lambda msg: None)
            with pytest.raises(ValueError, match="has a callback"):
                await sub.next_msg()


async def test_new_inboxes_are_unique(nats_url: str) -> None:
    """new_inbox() never repeats and uses the inbox prefix."""
    async with connect(nats_url, inbox_prefix="_MY") as nc:
        inboxes = {nc.new_inbox() for _ in range(100)}
    assert len(inboxes) == 100
    assert all(inbox.startswith("_MY.") for inbox in inboxes)
