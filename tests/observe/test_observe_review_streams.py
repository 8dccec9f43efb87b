"""Review: a client that stops reading its event stream holds neither the view nor its close."""

from __future__ import annotations

import socket

import pytest
import trio

import trouper
from trouper import Actor
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

WATCHDOG = 20.0
"""Seconds after which the test cuts the client itself (the view failed to)."""


@pytest.mark.skipif(
    not hasattr(socket, "TCP_USER_TIMEOUT"), reason="the cut needs TCP_USER_TIMEOUT (Linux)"
)
async def test_a_client_that_never_reads_its_stream_does_not_hold_the_views_close() -> None:
    """Leaving ``open_view`` returns though a client's stream has filled the socket's buffers."""
    client = trio.socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    cut_by_the_test = False

    async def watchdog() -> None:
        nonlocal cut_by_the_test
        await trio.sleep(WATCHDOG)
        cut_by_the_test = True
        client.close()  # unread data: the server's send fails, so a stuck close ends

    with client:
        async with trouper.open_runtime() as rt, trio.open_nursery() as nursery:
            nursery.start_soon(watchdog)
            async with open_view(rt, port=0, interval=0.01) as view:
                await client.connect(("127.0.0.1", view.port))
                await client.send(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                gone = await rt.spawn(Actor, name="gone")
                await rt.stop(gone)
                for _ in range(100):  # a second of full updates: 100 dead letters of 200 chars
                    for _ in range(100):
                        gone.tell_nowait("x" * 300)
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert not cut_by_the_test
