"""Review 16: leaving ``open_view`` ends the update streams and closes every connection at once.

When a stream ended from our side (the view closing), Starlette's streaming
answer cancelled Hypercorn's close of the socket, so a view with a page open
took its whole shutdown grace to close. The view here is given a long grace
(``SHUTDOWN``); its close must take a fraction of it (``PROMPT``), and the
clients must have seen their streams end. The other ways a client held the
close: an empty stream (``HEAD``), HTTP/2, a request pipelined behind the
stream, a connection being refused, a client that reads nothing (held until
the kernel gave up on it, not ``shutdown``), and ``serve`` cancelled.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack

import h2.config
import h2.connection
import h2.events
import hypercorn.config
import pytest
import trio
from event_clients import EVENTS, LAST_CHUNK, PROMPT, connect_view, follow_events, read_rest

import trouper
from trouper import Actor
from trouper.observe import ServedView, open_view, serve

pytestmark = pytest.mark.real_clock

SHUTDOWN = 10.0
"""The grace the view gives open connections here: a close that waits for it is plain to see."""

DEADLINE = 30.0
"""Seconds any one test may take."""


@pytest.mark.parametrize("pages", [1, 5])
async def test_leaving_the_view_ends_the_update_streams_and_closes_at_once(pages: int) -> None:
    """Each page that follows the view sees its stream end, and the view closes promptly."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view:
                    followers = [await follow_events(view.port, clients) for _ in range(pages)]
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"
            for client, head in followers:
                assert (head + await read_rest(client)).endswith(LAST_CHUNK)


async def test_a_stream_its_client_never_read_does_not_hold_the_close() -> None:
    """A client that asked for the stream and read nothing yet finds it ended once it reads."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view:
                    client = await connect_view(view.port, clients)
                    await client.send_all(EVENTS)
                    await trio.sleep(0.2)  # a few updates sent, none read
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"
            rest = await read_rest(client)
            assert rest.startswith(b"HTTP/1.1 200 ")
            assert rest.endswith(LAST_CHUNK)


async def test_a_connection_kept_alive_after_a_head_of_the_stream_is_closed_at_once() -> None:
    """``HEAD /api/events`` (an empty stream) leaves its connection idle, which the close ends."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view:
                    client = await connect_view(view.port, clients)
                    await client.send_all(b"HEAD /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    head = b""
                    while b"\r\n\r\n" not in head:
                        head += await client.receive_some(65536)
                    assert head.startswith(b"HTTP/1.1 200 ")
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"
            assert await read_rest(client) == b""


async def test_connections_without_a_stream_do_not_hold_the_close() -> None:
    """A silent client, a half-sent request, an idle kept-alive one, a half-closed one: closed."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view:
                    await connect_view(view.port, clients)  # says nothing
                    await (await connect_view(view.port, clients)).send_all(b"GET /api/su")  # half
                    idle = await connect_view(view.port, clients)  # one answer, then kept alive
                    await idle.send_all(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    answer = b""
                    while not answer.endswith(b"}"):
                        answer += await idle.receive_some(65536)
                    half_closed, _ = await follow_events(view.port, clients)  # then sends its EOF
                    await half_closed.send_eof()
                    await trio.sleep(0.2)
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"


async def test_an_http2_update_stream_ends_and_its_connection_closes_at_once() -> None:
    """A stream followed over HTTP/2 (on the plain socket) ends with the view, as HTTP/1.1's."""
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    connection.send_headers(
        1,
        [
            (":method", "GET"),
            (":path", "/api/events"),
            (":scheme", "http"),
            (":authority", "127.0.0.1"),
        ],
        end_stream=True,
    )
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view:
                    client = await connect_view(view.port, clients)
                    await client.send_all(connection.data_to_send())
                    events: list[h2.events.Event] = []
                    while not any(isinstance(event, h2.events.DataReceived) for event in events):
                        events += connection.receive_data(await client.receive_some(65536))
                    (answer,) = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
                    assert dict(answer.headers)[b":status"] == b"200"
                    assert not any(isinstance(e, h2.events.StreamEnded) for e in events)
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"
            events = connection.receive_data(await read_rest(client))
            assert any(isinstance(event, h2.events.StreamEnded) for event in events)


async def test_a_request_sent_behind_the_stream_does_not_hold_the_close() -> None:
    """A client that pipelined a request behind its stream sees the stream end, promptly.

    The streams' answers complete before Hypercorn hears the server terminate:
    an answer completed after that closes its connection but leaves the reader
    parked on the request waiting behind it, until the shutdown grace cuts it.
    """
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view:
                    client = await connect_view(view.port, clients)
                    await client.send_all(
                        EVENTS + b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    )
                    head = b""
                    while b"event: update" not in head:
                        head += await client.receive_some(65536)
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"
            stream, end, after = (head + await read_rest(client)).partition(LAST_CHUNK)
            assert stream.startswith(b"HTTP/1.1 200 ")
            assert end == LAST_CHUNK
            # Then the answer to the request behind, or part of it, or nothing: Hypercorn
            # closes the idle connection as the server terminates, racing with that request.
            assert after == b"" or after.startswith(b"HTTP/1.1 200 ")


async def test_cancelling_serve_while_a_page_follows_closes_at_once() -> None:
    """``serve`` cancelled (how it is stopped) with a stream open returns promptly."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with trio.open_nursery() as nursery:
                    view: ServedView = await nursery.start(_serve_with_shutdown, rt, SHUTDOWN)
                    client, _ = await follow_events(view.port, clients)
                    nursery.cancel_scope.cancel()
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"
            await read_rest(client)


async def _serve_with_shutdown(
    rt: trouper.Runtime, shutdown: float, *, task_status: trio.TaskStatus[ServedView]
) -> None:
    await serve(rt, port=0, interval=0.05, shutdown=shutdown, task_status=task_status)


async def test_a_client_that_reads_nothing_does_not_hold_the_close_past_shutdown() -> None:
    """A stream stalled in a write to a full socket is cut ``shutdown`` seconds into the close.

    The write is shielded in Hypercorn (no cancel reaches it); the kernel's
    ``TCP_USER_TIMEOUT`` (5 s, Linux only) ended it before, not ``shutdown``.
    """
    client = trio.socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    async def watchdog() -> None:
        await trio.sleep(DEADLINE)
        client.close()  # unread data: the server's write fails, so a stuck close ends

    with client:
        async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
            nursery.start_soon(watchdog)
            with trio.CancelScope() as closing:
                async with open_view(rt, port=0, interval=0.01, shutdown=0.25) as view:
                    await client.connect(("127.0.0.1", view.port))
                    await client.send(EVENTS)
                    gone = await rt.spawn(Actor, name="gone")
                    await rt.stop(gone)
                    for _ in range(100):  # a second of full updates: 100 dead letters of 300
                        for _ in range(100):
                            gone.tell_nowait("x" * 300)
                        await trio.sleep(0.01)
                    closing.deadline = trio.current_time() + PROMPT
            nursery.cancel_scope.cancel()
    assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"


async def test_a_connection_being_refused_does_not_hold_the_close() -> None:
    """A connection past the cap, waiting for its request to be answered 503, is dropped."""
    refused_for = 1.0  # seconds a refusal waits for the request, at most
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with open_view(
                    rt, port=0, interval=0.05, shutdown=SHUTDOWN, max_connections=1
                ) as view:
                    await follow_events(view.port, clients)
                    refused = await connect_view(view.port, clients)  # sends no request
                    await trio.sleep(0.1)  # (accepted by now, and waiting for its request)
                    closing.deadline = trio.current_time() + refused_for / 2
            assert not closing.cancelled_caught, f"the view took over {refused_for / 2} s to close"
            assert await read_rest(refused) == b""


@pytest.mark.parametrize("bad", [-1, True, "1", float("nan")])
async def test_a_bad_shutdown_is_refused(bad: object) -> None:
    """``shutdown`` must be seconds >= 0."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=r"^shutdown must be seconds >= 0, got "):
            async with open_view(rt, port=0, shutdown=bad):  # type: ignore[arg-type]
                pass


async def test_a_connection_kept_alive_after_a_head_of_the_stream_times_out_as_others_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After ``HEAD /api/events``, the idle connection is closed at the keep-alive timeout.

    The same cut that held the close dropped Hypercorn's idle watch of that
    connection: it stayed open (a place of ``max_connections``) until the client went.
    Hypercorn's keep-alive timeout (5 s by default) is shortened to 0.5 s for the test.
    """
    keep_alive = 0.5
    monkeypatch.setattr(hypercorn.config.Config, "keep_alive_timeout", keep_alive)
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.05) as view,
            AsyncExitStack() as clients,
        ):
            client = await connect_view(view.port, clients)
            await client.send_all(b"HEAD /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            with trio.fail_after(keep_alive + PROMPT):
                answer = b""
                while chunk := await client.receive_some(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")
