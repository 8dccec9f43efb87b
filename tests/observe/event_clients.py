"""Raw socket clients of the view's update stream, which the shutdown tests share."""

from __future__ import annotations

from contextlib import AsyncExitStack

import trio

PROMPT = 2.0
"""Seconds closing the view may take in these tests at most (a prompt close takes milliseconds)."""

EVENTS = b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

LAST_CHUNK = b"\r\n0\r\n\r\n"
"""How a chunked answer (the update stream) ends: the empty chunk."""


async def connect_view(port: int, clients: AsyncExitStack) -> trio.SocketStream:
    """A connection to the view, closed with ``clients``."""
    return await clients.enter_async_context(await trio.open_tcp_stream("127.0.0.1", port))


async def follow_events(port: int, clients: AsyncExitStack) -> tuple[trio.SocketStream, bytes]:
    """A client of the update stream that has read its first update, and what it read."""
    stream = await connect_view(port, clients)
    await stream.send_all(EVENTS)
    head = b""
    while b"event: update" not in head:
        head += await stream.receive_some(65536)
    assert head.startswith(b"HTTP/1.1 200 ")
    return stream, head


async def read_rest(stream: trio.SocketStream) -> bytes:
    """What is left to read on ``stream`` until the server closes it (EOF, not a reset)."""
    with trio.fail_after(PROMPT):
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
        return data
