"""Every async test runs on virtual time unless it is marked ``real_clock``.

pytest-trio takes a clock only from a test's own arguments, so instead each
async test gets a ``trio`` marker whose runner defaults the clock to
``MockClock(autojump_threshold=0)``; a test that asks for a clock fixture
still gets that one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing


def run_on_virtual_time(
    fn: Callable[[], Any], *, clock: trio.abc.Clock | None = None, **options: Any
) -> Any:
    """``trio.run`` with an autojumping MockClock unless a clock is given."""
    return trio.run(fn, clock=clock or trio.testing.MockClock(autojump_threshold=0), **options)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "obj", None)
        if not inspect.iscoroutinefunction(function):
            continue
        if item.get_closest_marker("real_clock") is None:
            item.add_marker(pytest.mark.trio(run=run_on_virtual_time), append=False)
