"""The client against a scripted server: exact bytes a real server cannot be made to send."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from nats_fake import (
    DEFAULT_INFO,
    FakeServer,
    Peer,
    connected,
    fake_server,
    hmsg_frame,
    msg_frame,
    wait_for,
)

from trouper.nats import (
    AsyncError,
    AuthorizationError,
    ClientEvent,
    Disconnected,
    Headers,
    JetStreamError,
    LameDuck,
    Msg,
    NoResponders,
    PermissionsViolation,
    ProtocolError,
    PubAck,
    PullConsumer,
    Reconnected,
    ServerError,
    StaleConnection,
    connect,
)

pytestmark = pytest.mark.real_clock

FAST_RECONNECT: dict[str, object] = {"reconnect_wait": 0.01, "reconnect_jitter": 0.0}


class Events:
    """Collects client events; ``wait(kind)`` waits for the next of a kind."""

    def __init__(self) -> None:
        self.seen: list[ClientEvent] = []

    def __call__(self, event: ClientEvent) -> None:
        self.seen.append(event)

    async def wait(self, kind: type, count: int = 1) -> list[ClientEvent]:
        await wait_for(lambda: len(self.of(kind)) >= count)
        return self.of(kind)

    def of(self, kind: type) -> list[ClientEvent]:
        return [event for event in self.seen if isinstance(event, kind)]


async def reconnect_peer(server: FakeServer) -> Peer:
    """Accept the client's next connection and play the handshake."""
    peer = await server.accept()
    await peer.handshake()
    return peer


async def test_connect_announces_headers_and_no_responders() -> None:
    """CONNECT asks for headers and no-responders, not verbose or pedantic, with our name."""
    async with fake_server() as server, trio.open_nursery() as nursery:
        options: list[dict[str, object]] = []

        async def serve() -> None:
            peer = await server.accept()
            options.append(await peer.handshake())

        nursery.start_soon(serve)
        with trio.fail_after(5):
            async with connect(server.url, name="probe"):
                await wait_for(lambda: bool(options))
    sent = options[0]
    assert (sent["verbose"], sent["pedantic"], sent["headers"], sent["no_responders"]) == (
        False,
        False,
        True,
        True,
    )
    assert (sent["name"], sent["lang"], sent["protocol"]) == ("probe", "python-trio", 1)


async def test_frames_split_at_every_byte_are_delivered() -> None:
    """MSG and HMSG sent one byte at a time arrive whole and in order."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            sub = await nc.subscribe("a.>")
            assert await peer.read_until("SUB") == "SUB a.> 1"
            block = b"NATS/1.0\r\nX: 1\r\nX: 2\r\nYy: three\r\n\r\n"
            await peer.send_bytewise(
                msg_frame("a.b", 1, b"hello", "reply.to") + hmsg_frame("a.c", 1, block, b"hi")
            )
            first = await sub.next_msg()
            second = await sub.next_msg()
    assert first == Msg("a.b", "reply.to", b"hello")
    assert second == Msg("a.c", None, b"hi", Headers([("X", "1"), ("X", "2"), ("Yy", "three")]))
    assert second.headers is not None
    assert second.headers.get_all("X") == ["1", "2"]


async def test_inline_status_reaches_the_message() -> None:
    """An HMSG whose header block is only a status line carries the code and its text."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            sub = await nc.subscribe("s")
            await peer.read_until("SUB")
            await peer.send(hmsg_frame("s", 1, b"NATS/1.0 408 Request Timeout\r\n\r\n", b""))
            msg = await sub.next_msg()
    assert (msg.status, msg.description, msg.data) == (408, "Request Timeout", b"")


async def test_status_503_reply_raises_no_responders() -> None:
    """A 503 status as the reply to a request raises NoResponders naming the subject."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):

            async def answer() -> None:
                await peer.read_until("SUB")
                line, _ = await peer.read_command()
                _, subject, reply, _ = line.split()
                assert subject == "service"
                await peer.send(hmsg_frame(reply, 1, b"NATS/1.0 503\r\n\r\n", b""))

            nursery.start_soon(answer)
            with pytest.raises(NoResponders, match=r"^no responders on subject 'service'$"):
                await nc.request("service", b"?")


async def test_server_ping_is_answered_with_pong() -> None:
    """A PING from the server gets a PONG."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (_, peer):
            await peer.send(b"PING\r\n")
            assert await peer.read_line() == "PONG"


async def test_ok_is_tolerated() -> None:
    """``+OK`` between messages changes nothing."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            sub = await nc.subscribe("x")
            await peer.read_until("SUB")
            await peer.send(b"+OK\r\nMSG x 1 2\r\nok\r\n")
            assert (await sub.next_msg()).data == b"ok"


async def test_authorization_violation_at_connect_raises() -> None:
    """``-ERR 'Authorization Violation'`` answering CONNECT makes connect() raise it."""
    async with fake_server() as server, trio.open_nursery() as nursery:

        async def refuse() -> None:
            peer = await server.accept()
            await peer.send(b"INFO " + json.dumps(DEFAULT_INFO).encode() + b"\r\n")
            await peer.read_line()
            await peer.send(b"-ERR 'Authorization Violation'\r\n")

        nursery.start_soon(refuse)
        with trio.fail_after(5), pytest.raises(AuthorizationError, match="Authorization Violation"):
            async with connect(server.url):
                pass


async def test_permissions_violation_is_reported_and_ends_the_subscription() -> None:
    """A refused subscription is reported as an AsyncError and ends with that error."""
    events = Events()
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, on_event=events) as (nc, peer):
            sub = await nc.subscribe("secret.>")
            await peer.read_until("SUB")
            await peer.send(b"-ERR 'Permissions Violation for Subscription to \"secret.>\"'\r\n")
            with pytest.raises(PermissionsViolation) as caught:
                await sub.next_msg()
            assert nc.status.value == "connected"
    assert (caught.value.operation, caught.value.subject) == ("subscription", "secret.>")
    reported = events.of(AsyncError)
    assert len(reported) == 1
    assert isinstance(reported[0], AsyncError)
    assert reported[0].error == caught.value


async def test_lame_duck_info_is_reported() -> None:
    """An INFO announcing lame duck mode is reported as a LameDuck event."""
    events = Events()
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, on_event=events) as (nc, peer):
            await peer.send(b'INFO {"server_id":"FAKE","ldm":true}\r\n')
            (event,) = await events.wait(LameDuck)
            assert nc.status.value == "connected"
    assert event == LameDuck(f"127.0.0.1:{server.port}")


async def test_unknown_err_is_reported_as_server_error() -> None:
    """An ``-ERR`` the client does not know keeps the connection and is reported."""
    events = Events()
    with trio.fail_after(5):
        async with fake_server() as server, connected(server, on_event=events) as (_, peer):
            await peer.send(b"-ERR 'Something Odd'\r\n")
            (event,) = await events.wait(AsyncError)
    assert isinstance(event, AsyncError)
    assert type(event.error) is ServerError
    assert str(event.error) == "server error: Something Odd"


async def test_fatal_err_drops_the_connection_and_reconnects() -> None:
    """``-ERR 'Stale Connection'`` ends the connection; the client reconnects."""
    events = Events()
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events, **FAST_RECONNECT) as (nc, peer),
        ):
            await peer.send(b"-ERR 'Stale Connection'\r\n")
            await reconnect_peer(server)
            await events.wait(Reconnected)
            assert nc.statistics().reconnects == 1
    (disconnected,) = events.of(Disconnected)
    assert isinstance(disconnected, Disconnected)
    assert isinstance(disconnected.reason, StaleConnection)


async def test_malformed_frame_closes_the_connection_with_protocol_error() -> None:
    """A MSG line with a bad size is a ProtocolError: the connection is replaced."""
    events = Events()
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events, **FAST_RECONNECT) as (nc, peer),
        ):
            sub = await nc.subscribe("x")
            await peer.read_until("SUB")
            await peer.send(b"MSG x 1 many\r\n")
            second = await reconnect_peer(server)
            assert await second.read_until("SUB") == "SUB x 1"
            await second.send(b"MSG x 1 5\r\nafter\r\n")
            assert (await sub.next_msg()).data == b"after"
    (disconnected,) = events.of(Disconnected)
    assert isinstance(disconnected, Disconnected)
    assert isinstance(disconnected.reason, ProtocolError)
    assert "malformed message line" in str(disconnected.reason)


async def test_reconnect_resubscribes_with_the_remaining_max_msgs() -> None:
    """After a drop, SUB is sent again with UNSUB for the messages still allowed."""
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, **FAST_RECONNECT) as (nc, peer),
        ):
            sub = await nc.subscribe("n", queue="q", max_msgs=5)
            assert await peer.read_line() == "SUB n q 1"
            assert await peer.read_line() == "UNSUB 1 5"
            await peer.send(b"MSG n 1 1\r\na\r\nMSG n 1 1\r\nb\r\n")
            await sub.next_msg()
            await sub.next_msg()
            await peer.close()
            second = await reconnect_peer(server)
            assert await second.read_line() == "SUB n q 1"
            assert await second.read_line() == "UNSUB 1 3"


async def test_outage_buffer_is_sent_after_the_subscriptions_in_order() -> None:
    """Publishes made while disconnected follow the re-sent SUBs, in publish order."""
    events = Events()
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events, **FAST_RECONNECT) as (nc, peer),
        ):
            await nc.subscribe("in")
            await peer.read_until("SUB")
            await peer.close()
            await events.wait(Disconnected)
            for n in range(3):
                await nc.publish("out", str(n).encode())
            second = await reconnect_peer(server)
            received = [await second.read_command() for _ in range(4)]
    assert received == [
        ("SUB in 1", None),
        ("PUB out 1", b"0"),
        ("PUB out 1", b"1"),
        ("PUB out 1", b"2"),
    ]


async def test_cluster_urls_from_info_are_used_to_reconnect() -> None:
    """When the first server goes, the client reconnects to one INFO announced."""
    events = Events()
    with trio.fail_after(5):
        async with (
            fake_server() as first,
            fake_server() as second,
            trio.open_nursery() as nursery,
        ):

            async def serve_first() -> None:
                peer = await first.accept()
                await peer.handshake(connect_urls=[f"127.0.0.1:{second.port}"])
                await first.close()
                await peer.close()

            nursery.start_soon(serve_first)
            async with connect(first.url, on_event=events, **FAST_RECONNECT) as nc:  # type: ignore[arg-type]
                await reconnect_peer(second)
                (reconnected,) = await events.wait(Reconnected)
                assert f"127.0.0.1:{second.port}" in nc.servers
    assert isinstance(reconnected, Reconnected)
    assert reconnected.server == f"127.0.0.1:{second.port}"


async def test_unanswered_pings_mark_the_connection_stale() -> None:
    """Past max_outstanding_pings unanswered PINGs, the client reconnects."""
    events = Events()
    options: dict[str, object] = {"ping_interval": 0.02, "max_outstanding_pings": 2}
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events, **options, **FAST_RECONNECT) as (_, p),
        ):
            await reconnect_peer(server)
            await events.wait(Reconnected)
            assert [await p.read_line() for _ in range(2)] == ["PING", "PING"]
    (disconnected,) = events.of(Disconnected)
    assert isinstance(disconnected, Disconnected)
    assert isinstance(disconnected.reason, StaleConnection)


async def test_flush_fails_when_the_connection_drops_before_pong() -> None:
    """A flush whose PONG never comes raises ConnectionLost when the connection drops."""
    from trouper.nats import ConnectionLost

    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, **FAST_RECONNECT) as (nc, peer),
            trio.open_nursery() as n,
        ):

            async def drop() -> None:
                assert await peer.read_line() == "PING"
                await peer.close()
                await reconnect_peer(server)

            n.start_soon(drop)
            with pytest.raises(ConnectionLost):
                await nc.flush()


async def test_request_written_before_a_drop_fails_with_connection_lost() -> None:
    """A request whose bytes were written when the connection dropped fails at once."""
    from trouper.nats import ConnectionLost

    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, **FAST_RECONNECT) as (nc, peer),
            trio.open_nursery() as nursery,
        ):

            async def drop_after_the_request() -> None:
                await peer.read_until("PUB service")
                await peer.close()
                await reconnect_peer(server)

            nursery.start_soon(drop_after_the_request)
            with pytest.raises(ConnectionLost, match="after the request was sent"):
                await nc.request("service", b"?")


async def test_request_made_during_an_outage_is_sent_after_the_reconnect() -> None:
    """A request buffered while disconnected goes out after the reconnect and is answered."""
    events = Events()
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server, on_event=events, **FAST_RECONNECT) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            await peer.close()
            await events.wait(Disconnected)

            async def answer_after_reconnect() -> None:
                second = await reconnect_peer(server)
                line = await second.read_until("PUB service")
                reply = line.split()[2]
                await second.send(msg_frame(reply, 1, b"answer"))

            nursery.start_soon(answer_after_reconnect)
            assert (await nc.request("service", b"?")).data == b"answer"


async def test_request_still_buffered_at_a_drop_is_sent_after_the_reconnect() -> None:
    """A request queued behind a blocked send survives the drop and is answered later."""
    with trio.fail_after(10):
        async with (
            fake_server() as server,
            connected(server, write_buffer_size=1 << 26, **FAST_RECONNECT) as (nc, peer),
            trio.open_nursery() as nursery,
        ):
            for _ in range(200):  # 20 MB the fake never reads: the writer blocks on them
                await nc.publish("bulk", b"x" * 100_000)
            await trio.testing.wait_all_tasks_blocked()
            answer: list[bytes] = []

            async def ask() -> None:
                answer.append((await nc.request("service", b"?")).data)

            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            await peer.close()
            second = await reconnect_peer(server)
            line = await second.read_until("PUB service")
            await second.send(msg_frame(line.split()[2], 1, b"late answer"))
            await wait_for(lambda: bool(answer))
    assert answer == [b"late answer"]


async def test_fetch_stops_when_the_end_of_its_pull_never_comes() -> None:
    """A pull whose 408 is lost still returns, shortly after its expiry."""
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            consumer = PullConsumer(nc.jetstream(), "ORDERS", "worker")
            start = trio.current_time()
            assert await consumer.fetch(5, expires=0.1) == []
            assert 2.0 <= trio.current_time() - start < 4
            line, payload = await peer.read_command()
            while not line.startswith("PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.worker"):
                line, payload = await peer.read_command()
    assert json.loads(payload or b"") == {"batch": 5, "expires": 100_000_000}


async def test_publish_acks_are_read_in_every_form_the_server_writes() -> None:
    """The usual answer, a duplicate, one with a domain and an error read as the server meant."""
    answers = [
        b'{"stream":"S","seq":7}',
        b'{"stream":"S","seq":7,"duplicate": true}',
        b'{"stream":"S", "domain":"hub", "seq":8}',
        b'{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}',
    ]
    with trio.fail_after(5):
        async with (
            fake_server() as server,
            connected(server) as (nc, peer),
            trio.open_nursery() as nursery,
        ):

            async def answer() -> None:
                for data in answers:
                    line = await peer.read_until("PUB s.x")
                    await peer.send(msg_frame(line.split()[2], 1, data))

            nursery.start_soon(answer)
            js = nc.jetstream()
            acks = [await js.publish("s.x", b"1") for _ in range(3)]
            refused = r"^JetStream error 400 \(10071\): wrong last sequence: 3$"
            with pytest.raises(JetStreamError, match=refused):
                await js.publish("s.x", b"1")
    assert acks == [PubAck("S", 7), PubAck("S", 7, duplicate=True), PubAck("S", 8, domain="hub")]


async def test_publish_soon_sends_its_headers_then_the_msg_id() -> None:
    """The header block is the given headers, then Nats-Msg-Id; a CR or LF in the id is refused."""
    acks: list[object] = []
    with trio.fail_after(5):
        async with fake_server() as server, connected(server) as (nc, peer):
            js = nc.jetstream()
            headers = Headers({"Trouper-Type": "job"})
            with pytest.raises(ValueError, match=r"^a header value must be a string"):
                js.publish_soon("s.x", b"body", acks.append, headers=headers, msg_id="k\r\n")
            js.publish_soon("s.x", b"body", acks.append, headers=headers, msg_id="k-1")
            js.publish_soon("s.x", b"bare", acks.append, msg_id="k-2")
            sent = []
            for seq in (1, 2):
                line, payload = await peer.read_command()
                while not line.startswith("HPUB s.x"):
                    line, payload = await peer.read_command()
                sent.append(payload)
                await peer.send(msg_frame(line.split()[2], 1, b'{"stream":"S","seq":%d}' % seq))
            await wait_for(lambda: len(acks) == 2)
    assert sent == [
        b"NATS/1.0\r\nTrouper-Type: job\r\nNats-Msg-Id: k-1\r\n\r\nbody",
        b"NATS/1.0\r\nNats-Msg-Id: k-2\r\n\r\nbare",
    ]
    assert acks == [PubAck("S", 1), PubAck("S", 2)]
