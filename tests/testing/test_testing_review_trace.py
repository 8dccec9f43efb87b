"""Review: ``Trace.render(limit=...)`` shows the last ``limit`` events, and only a count >= 0."""

from __future__ import annotations

import pytest

from trouper.testing import Trace, TraceEvent

TRACE = Trace([TraceEvent(float(n), "send", "<main>", f"tell {n} -> /a") for n in range(3)])


def test_a_limit_of_zero_shows_no_event() -> None:
    """``limit=0``: the last none of them, not all of them."""
    assert TRACE.render(limit=0) == "... 3 earlier events"


def test_a_negative_limit_is_refused() -> None:
    """``limit=-1`` would show all but the first event: refused with the reason."""
    with pytest.raises(ValueError, match=r"^limit must be >= 0, got -1$"):
        TRACE.render(limit=-1)
