"""Review: one runtime per store file, whatever the path it is opened by.

The lock was ``<path as given>-lock``: a store opened through a symlink took
another lock file, so a second runtime (or the CLI's redrive and discard)
wrote to a store a running runtime had open.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from durable_support import sqlite

import trouper
from trouper.errors import StoreLocked


@pytest.mark.real_clock
async def test_a_store_opened_through_a_symlink_is_locked_by_the_runtime_holding_it(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real.db"
    link = tmp_path / "link.db"
    link.symlink_to(real)
    async with trouper.open_runtime(store=sqlite(real)):
        with trio.fail_after(10), pytest.raises(StoreLocked):
            async with trouper.open_runtime(store=sqlite(link)):
                pass  # pragma: no cover
