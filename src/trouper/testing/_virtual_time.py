"""Running Trio on virtual time: what the plugin's fixtures run under, for other tests too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
import trio.testing

__all__ = ["run_on_virtual_time"]


def run_on_virtual_time(
    fn: Callable[[], Any], *, clock: trio.abc.Clock | None = None, **options: Any
) -> Any:
    """``trio.run(fn)`` on ``MockClock(autojump_threshold=0)`` unless a ``clock`` is given.

    The runner of the ``runtime`` and ``probe`` fixtures; a conftest may give it
    to every async test (``pytest.mark.trio(run=run_on_virtual_time)``).
    """
    return trio.run(fn, clock=clock or trio.testing.MockClock(autojump_threshold=0), **options)
