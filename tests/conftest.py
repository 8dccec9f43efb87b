"""Every async test runs on virtual time unless it is marked ``real_clock``.

pytest-trio takes a clock only from a test's own arguments, so each async
test gets a ``trio`` marker whose runner (the one trouper's plugin uses for
its fixtures) defaults the clock to ``MockClock(autojump_threshold=0)``; a
test that asks for a clock fixture still gets that one.
"""

from __future__ import annotations

import inspect

import pytest
from hypothesis import settings

from trouper.testing import run_on_virtual_time

# The machine is shared and its speed varies: a property may take longer than Hypothesis's
# default 200 ms per example without anything being wrong, so no deadline (CI included).
settings.register_profile("trouper", deadline=None)
settings.load_profile("trouper")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "obj", None)
        if not inspect.iscoroutinefunction(function):
            continue
        if item.get_closest_marker("real_clock") is None:
            item.add_marker(pytest.mark.trio(run=run_on_virtual_time), append=False)
