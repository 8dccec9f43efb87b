"""Review 5: an HTTP/2 connection is served one request at a time, as an HTTP/1.1 one is.

``max_connections`` bounds what the view serves at once; HTTP/2 (which
Hypercorn speaks on a plain socket to a client that opens with its preface)
would otherwise carry up to 100 update streams on each of those connections.
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
import pytest
import trio

import trouper
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


async def _statuses(port: int, paths: list[str]) -> list[bytes]:
    """Open one HTTP/2 stream per path at once on one connection; the statuses answered.

    Reads until every stream is answered or the server closes the connection.
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    for path in paths:
        connection.send_headers(
            connection.get_next_available_stream_id(),
            [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "127.0.0.1")],
            end_stream=True,
        )
    statuses: dict[int, bytes] = {}
    async with stream:
        await stream.send_all(connection.data_to_send())
        while len(statuses) < len(paths):
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:  # reset by the server
                break
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    statuses[event.stream_id] = dict(event.headers)[b":status"]
                elif isinstance(event, h2.events.DataReceived):
                    connection.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
            await stream.send_all(connection.data_to_send())
    return list(statuses.values())


async def test_one_http2_connection_does_not_carry_more_than_one_stream_at_once() -> None:
    """Ten update streams opened at once on one HTTP/2 connection are not all served."""
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.05, max_connections=1) as view,
        ):
            paths = [f"/api/events?open=/a{n}" for n in range(10)]
            assert (await _statuses(view.port, paths)).count(b"200") <= 1


async def test_an_http2_client_is_still_served() -> None:
    """One request at a time over HTTP/2 is answered."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, open_view(rt, port=0) as view:
            assert await _statuses(view.port, ["/api/summary"]) == [b"200"]
