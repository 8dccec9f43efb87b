"""Review 24: the view stops accepting connections as soon as its close begins.

The listening socket stayed open until every connection had finished, through
the shutdown grace: the kernel still completed connections that nobody would
serve, which waited, then were reset.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import trio
import trio.testing
from event_clients import connect_view, read_rest

import trouper
from trouper import Actor
from trouper.observe import CONTROL_HEADER, ServedView, serve

pytestmark = pytest.mark.real_clock

SHUTDOWN = 10.0
"""The grace the view gives open connections here: a close that waits for it is plain to see."""

DEADLINE = 30.0
"""Seconds any one test may take."""


async def test_the_listening_socket_closes_as_soon_as_the_view_starts_closing() -> None:
    """While a busy connection holds the close, a new connection is refused, not queued."""
    stopping = trio.Event()
    release = trio.Event()

    class SlowToStop(Actor):
        async def on_stop(self) -> None:
            stopping.set()
            await release.wait()

    closing = trio.CancelScope()

    async def run_view(rt: trouper.Runtime, *, task_status: trio.TaskStatus[ServedView]) -> None:
        with closing:
            await serve(rt, port=0, allow_control=True, shutdown=SHUTDOWN, task_status=task_status)

    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            AsyncExitStack() as clients,
            trio.open_nursery() as nursery,
        ):
            await rt.spawn(SlowToStop, name="slow")
            view: ServedView = await nursery.start(run_view, rt)
            busy = await connect_view(view.port, clients)
            await busy.send_all(
                b"POST /api/stop/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + CONTROL_HEADER.encode()
                + b": 1\r\nContent-Length: 0\r\n\r\n"
            )
            await stopping.wait()
            closing.cancel()  # the view closes; the stop being answered holds it
            await trio.testing.wait_all_tasks_blocked()
            with trio.socket.socket() as late, pytest.raises(ConnectionRefusedError):
                await late.connect(("127.0.0.1", view.port))
            release.set()
            answer = await read_rest(busy)
            assert answer.startswith(b"HTTP/1.1 200 ")
