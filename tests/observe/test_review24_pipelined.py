"""Review 24: a request pipelined behind an update stream is never answered at the close.

Once the streams had ended, each connection was kept alive, then closed as
idle when Hypercorn heard that the server terminates; a request its client had
pipelined behind the stream raced with that close: answered, cut after its
head, or dropped. Hypercorn now hears it first, so each connection closes once
its stream has ended, and the view's close stays prompt.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import trio
from event_clients import EVENTS, LAST_CHUNK, PROMPT, connect_view, read_rest

import trouper
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

SHUTDOWN = 10.0
"""The grace the view gives open connections here: a close that waits for it is plain to see."""

DEADLINE = 30.0
"""Seconds any one test may take."""


@pytest.mark.parametrize("attempt", range(5))
async def test_a_request_pipelined_behind_a_stream_is_not_answered_at_the_close(
    attempt: int,
) -> None:
    """The stream ends with its last chunk, then the connection closes: nothing follows it.

    Before, the connection was kept alive once the stream ended, and the
    request behind was answered, cut or dropped as Hypercorn's idle close of
    the terminating server raced with it (five tries make the race show).
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
                        chunk = await client.receive_some(65536)
                        assert chunk, f"the stream was cut: {head!r}"
                        head += chunk
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the view took over {PROMPT} s to close"
            stream, end, after = (head + await read_rest(client)).partition(LAST_CHUNK)
            assert stream.startswith(b"HTTP/1.1 200 ")
            assert end == LAST_CHUNK
            assert after == b""
