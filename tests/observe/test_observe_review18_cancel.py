"""Review 18: cancelling ``serve()`` ends the update streams as cleanly as leaving ``open_view``.

``serve()`` is stopped by its caller's cancel scope. That cancel reached the
connections' tasks directly, so each update stream was cut without the empty
chunk that ends a chunked answer: ``curl`` reported a partial transfer (error
18) and a client could not tell the server stopping from a network fault. The
view here has a long grace (``SHUTDOWN``); the cancel must take a fraction of
it (``PROMPT``), and the clients must see their streams end.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack

import pytest
import trio
from event_clients import EVENTS, LAST_CHUNK, PROMPT, follow_events, read_rest

import trouper
from trouper import Actor
from trouper.observe import ServedView, open_view, serve

pytestmark = pytest.mark.real_clock

SHUTDOWN = 10.0
"""The grace the view gives open connections here: a cancel that waits for it is plain to see."""

DEADLINE = 30.0
"""Seconds any one test may take."""


async def _serve(
    rt: trouper.Runtime, shutdown: float, *, task_status: trio.TaskStatus[ServedView]
) -> None:
    await serve(rt, port=0, interval=0.05, shutdown=shutdown, task_status=task_status)


@pytest.mark.parametrize("pages", [1, 3])
async def test_cancelling_serve_ends_each_stream_with_its_last_chunk(pages: int) -> None:
    """Each page following the view sees the empty chunk, then EOF; the cancel is prompt."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as closing:
                async with trio.open_nursery() as nursery:
                    view: ServedView = await nursery.start(_serve, rt, SHUTDOWN)
                    followers = [await follow_events(view.port, clients) for _ in range(pages)]
                    nursery.cancel_scope.cancel()
                    closing.deadline = trio.current_time() + PROMPT
            assert not closing.cancelled_caught, f"the cancel took over {PROMPT} s"
            for client, head in followers:
                assert (head + await read_rest(client)).endswith(LAST_CHUNK)


async def test_a_cancel_of_the_view_block_ends_the_streams_and_still_leaves_as_a_cancel() -> None:
    """Cancelled from outside, the block of ``open_view`` closes the view as on leaving it."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, AsyncExitStack() as clients:
            with trio.CancelScope() as outside:
                async with open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view:
                    client, head = await follow_events(view.port, clients)
                    outside.cancel()
                    cancelled_at = trio.current_time()
                    await trio.sleep_forever()
            assert outside.cancelled_caught  # (the cancel left the block as itself)
            assert trio.current_time() - cancelled_at < PROMPT
            assert (head + await read_rest(client)).endswith(LAST_CHUNK)


async def test_cancelling_serve_with_a_client_that_reads_nothing_is_bounded_by_shutdown() -> None:
    """A stream stalled in a write to a full socket holds the cancel ``shutdown`` s at most."""
    client = trio.socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    async def watchdog() -> None:
        await trio.sleep(DEADLINE)
        client.close()  # unread data: the server's write fails, so a stuck close ends

    with client:
        async with trouper.open_runtime() as rt, trio.open_nursery() as outer:
            outer.start_soon(watchdog)
            with trio.CancelScope() as closing:
                async with trio.open_nursery() as nursery:
                    view: ServedView = await nursery.start(_serve, rt, 0.25)
                    await client.connect(("127.0.0.1", view.port))
                    await client.send(EVENTS)
                    gone = await rt.spawn(Actor, name="gone")
                    await rt.stop(gone)
                    for _ in range(100):  # a second of full updates: 100 dead letters of 300
                        for _ in range(100):
                            gone.tell_nowait("x" * 300)
                        await trio.sleep(0.01)
                    nursery.cancel_scope.cancel()
                    closing.deadline = trio.current_time() + PROMPT
            outer.cancel_scope.cancel()
    assert not closing.cancelled_caught, f"the cancel took over {PROMPT} s"
