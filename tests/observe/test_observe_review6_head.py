"""Review 6: a ``HEAD`` request for the update stream is answered with its head, and ends.

Starlette answers ``HEAD`` for every ``GET`` route, the stream's included: the
stream of updates never ended, so the connection served nothing after it (a
client that keeps connections open waited for ever on its next request) and
the view went on sampling the runtime for a page that would never read an update.
"""

from __future__ import annotations

import pytest
import trio

import trouper
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds the test may wait for the server."""


async def test_a_head_request_for_the_update_stream_ends_with_its_head() -> None:
    """``HEAD /api/events`` (``curl -I``) gets the stream's head; the connection then serves on."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, open_view(rt, port=0) as view:
            stream = await trio.open_tcp_stream("127.0.0.1", view.port)
            async with stream:
                await stream.send_all(b"HEAD /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                head = b""
                while b"\r\n\r\n" not in head:
                    head += await stream.receive_some(65536)
                await stream.send_all(
                    b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                rest = head.partition(b"\r\n\r\n")[2]
                while chunk := await stream.receive_some(65536):
                    rest += chunk
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-type: text/event-stream" in head.lower()
    assert rest.startswith(b"HTTP/1.1 200 ")
    assert b'"allow_control":false' in rest
