"""``trouper.aio.open_runtime`` entered where it cannot run says where to go instead."""

from __future__ import annotations

import pytest

import trouper.aio


async def test_entered_in_trio_code_points_to_trouper_open_runtime() -> None:
    """In a Trio program (no asyncio loop), the error names ``trouper.open_runtime``."""
    with pytest.raises(
        RuntimeError,
        match=r"^a Trio run is already active in this thread: .*use trouper\.open_runtime\)$",
    ):
        async with trouper.aio.open_runtime():
            pass


def test_entered_outside_an_asyncio_loop_says_it_needs_one() -> None:
    """Driven by hand, outside any event loop, the error says an asyncio task is needed."""
    entering = trouper.aio.open_runtime().__aenter__()
    with pytest.raises(RuntimeError, match=r"^trouper\.aio\.open_runtime\(\) must run in an"):
        entering.send(None)
