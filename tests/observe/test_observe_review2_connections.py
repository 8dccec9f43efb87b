"""Review 2: the view holds at most ``max_connections`` connections; more are refused with 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

import trouper
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


async def _read_all(stream: trio.SocketStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def _get(port: int, path: str) -> bytes:
    """One ``GET`` on a connection of its own, closed by the server; the whole answer."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        return await _read_all(stream)


@asynccontextmanager
async def streaming(port: int, count: int) -> AsyncIterator[None]:
    """``count`` pages' update streams, each served (its first update read) before the block."""
    streams = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(count)]
    try:
        for stream in streams:
            await stream.send_all(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while b"event: update" not in head:
                head += await stream.receive_some(65536)
            assert head.startswith(b"HTTP/1.1 200 ")
        yield
    finally:
        for stream in streams:
            await trio.aclose_forcefully(stream)


async def _get_served(port: int, path: str) -> bytes:
    """``_get`` until the answer is not a 503 (a place is freed once the server has closed)."""
    while (answer := await _get(port, path)).startswith(b"HTTP/1.1 503 "):  # noqa: ASYNC110
        await trio.sleep(0.01)  # the server's side of a closed connection: nothing to wait on
    return answer


async def test_connections_over_the_cap_are_answered_503_and_closed() -> None:
    """With every place taken, a connection gets a 503 that names the cap, then is closed."""
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.05, max_connections=2) as view,
        ):
            async with streaming(view.port, 2):
                answer = await _get(view.port, "/api/config")
                assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
                assert answer.endswith(
                    b"busy: the view already serves max_connections=2 connections; "
                    b"try again later\n"
                )
            # The pages gone, their places are free again.
            assert (await _get_served(view.port, "/api/config")).startswith(b"HTTP/1.1 200 ")


async def test_many_connections_do_not_take_more_than_the_cap() -> None:
    """A burst of connections past the cap is refused, not held; the view still serves."""
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.05, max_connections=3) as view,
            streaming(view.port, 3),
        ):
            answers: list[bytes] = []

            async def one() -> None:
                try:
                    answers.append(await _get(view.port, "/api/summary"))
                except (trio.BrokenResourceError, OSError):  # closed unanswered: reset
                    answers.append(b"")

            async with trio.open_nursery() as nursery:
                for _ in range(40):
                    nursery.start_soon(one)
            # 503 while some are being refused; closed unanswered past that.
            assert {answer[:13] for answer in answers} <= {b"HTTP/1.1 503 ", b""}
            assert b"HTTP/1.1 503 " in {answer[:13] for answer in answers}


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
async def test_a_bad_max_connections_is_refused(bad: object) -> None:
    """``max_connections`` must be an int >= 1."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=r"^max_connections must be an int >= 1, got "):
            async with open_view(rt, port=0, max_connections=bad):  # type: ignore[arg-type]
                pass
