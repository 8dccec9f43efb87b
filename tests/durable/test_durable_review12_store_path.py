"""Review: a store path that is not a regular file is refused, not read.

``SqliteStore`` read the first bytes of the path to check SQLite's header:
on a FIFO that read waits for a writer, in the store's writer thread, so
``open_runtime`` hung for good (the wait cannot be cancelled). The command
line's ``inspect`` refused such a path already, saying so.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest
import trio
from durable_support import sqlite

import trouper
from trouper.errors import StoreError


@pytest.mark.real_clock
async def test_a_fifo_is_refused_as_not_a_regular_file(tmp_path: Path) -> None:
    """``open_runtime`` raises ``StoreError`` at once and leaves the FIFO as it was."""
    fifo = tmp_path / "s.db"
    os.mkfifo(fifo)
    done = threading.Event()

    def unblock() -> None:
        # A store that opens the FIFO to read it waits for a writer: be one after a
        # while, so that the test fails (the bytes are no store) instead of hanging.
        if done.wait(5):
            return
        with contextlib.suppress(OSError):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"not a store")
            os.close(fd)

    watchdog = threading.Thread(target=unblock, daemon=True)
    watchdog.start()
    try:
        with pytest.raises(StoreError, match=r"^store '.*s\.db': it is not a regular file$"):
            async with trouper.open_runtime(store=sqlite(fifo)):
                pass  # pragma: no cover
    finally:
        done.set()
        await trio.to_thread.run_sync(watchdog.join)
    assert fifo.is_fifo()
