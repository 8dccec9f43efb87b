"""Review: event streams: one that is not read holds nothing; many cost the runtime little."""

from __future__ import annotations

import socket
from contextlib import aclosing
from typing import Any

import httpx
import pytest
import trio

import trouper
from trouper import Actor
from trouper.observe import TreeView, open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds a test of streams that are read may wait for the server."""

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


async def test_pages_with_the_same_view_share_one_tree_per_sample() -> None:
    """Ten open pages cost the runtime one tree per sample, not ten: the work is shared."""
    calls = {"tree": 0, "sample": 0}
    updates = [0] * 10
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.05) as view,
            httpx.AsyncClient(base_url=view.url) as client,
        ):
            observer = view.observer
            tree, sample = observer.tree, observer.sample

            def counted_tree(**view: Any) -> TreeView:
                calls["tree"] += 1
                return tree(**view)

            def counted_sample() -> None:
                calls["sample"] += 1
                sample()

            observer.tree = counted_tree  # type: ignore[method-assign]
            observer.sample = counted_sample  # type: ignore[method-assign]
            await rt.spawn(Actor, name="a")

            async def read(page: int) -> None:
                async with (
                    client.stream("GET", "/api/events") as response,
                    aclosing(response.aiter_lines()) as lines,  # type: ignore[type-var]
                ):
                    async for line in lines:
                        if line.startswith("data: "):
                            updates[page] += 1
                            if min(updates) >= 5:
                                enough.set()

            enough = trio.Event()
            async with trio.open_nursery() as nursery:
                for page in range(10):
                    nursery.start_soon(read, page)
                await enough.wait()
                nursery.cancel_scope.cancel()
    # Each page's first update is its own; later ones share the sample's tree.
    assert calls["tree"] <= calls["sample"] + 10
