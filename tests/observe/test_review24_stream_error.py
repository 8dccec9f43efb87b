"""Review 24: an update stream whose body raised ends with its last chunk.

The body's error (a failing observer query) was raised through Hypercorn,
which then closed the connection mid-answer, without the empty chunk that ends
a chunked answer: a client saw a protocol error (``curl``: error 18), not a
finished stream. The error is still logged as itself (review 18).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest
import trio
from event_clients import LAST_CHUNK, PROMPT, follow_events

import trouper
from trouper.observe import PoolInfo, open_view

pytestmark = pytest.mark.real_clock

SHUTDOWN = 10.0
"""The grace the view gives open connections here: a close that waits for it is plain to see."""

DEADLINE = 30.0
"""Seconds any one test may take."""


async def test_a_stream_whose_body_raised_ends_with_its_last_chunk(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The error is logged; the client sees the stream end, and its connection serves on."""
    failing = trio.Event()
    working_pools: list[Callable[[], tuple[PoolInfo, ...]]] = []

    def pools() -> tuple[PoolInfo, ...]:
        if failing.is_set():
            raise RuntimeError("boom in the stream")
        return working_pools[0]()

    with trio.fail_after(DEADLINE), caplog.at_level(logging.ERROR, logger="trouper.observe"):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, interval=0.05, shutdown=SHUTDOWN) as view,
            AsyncExitStack() as clients,
        ):
            working_pools.append(view.observer.pools)
            view.observer.pools = pools  # type: ignore[method-assign]
            client, answer = await follow_events(view.port, clients)
            failing.set()
            with trio.fail_after(PROMPT):
                while LAST_CHUNK not in answer:
                    chunk = await client.receive_some(65536)
                    assert chunk, f"the stream was cut: {answer[-200:]!r}"
                    answer += chunk
            assert answer.endswith(LAST_CHUNK)  # (a finished answer: the connection is sane)
            await client.send_all(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            config = b""
            while not config.endswith(b"}"):
                config += await client.receive_some(65536)
            assert config.startswith(b"HTTP/1.1 200 ")
    errors = [record.exc_info[1] for record in caplog.records if record.exc_info]
    assert [str(error) for error in errors] == ["boom in the stream"]
