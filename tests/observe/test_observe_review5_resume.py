"""Review 5: a stream the browser reopens by itself resumes after the last update it received.

``EventSource`` reconnects to the same address (whose ``since`` is the cursor
of when the page opened it) and says in ``Last-Event-ID`` what it received
since; the feed entries in between were sent again, and the page listed them
twice.
"""

from __future__ import annotations

import pytest
import trio
from observe_actors import read_updates

import trouper
from trouper import Actor
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


def _paths(update: dict[str, object]) -> list[object]:
    feed = update.get("feed")
    return [item["path"] for item in feed["items"]] if isinstance(feed, dict) else []


async def test_a_reconnecting_stream_resumes_after_its_last_event_id() -> None:
    """With ``since=1`` in the address and ``Last-Event-ID: 2``, entry 2 is not sent again."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, open_view(rt, port=0, interval=0.05) as view:
            for name in ("a", "b", "c"):
                await rt.spawn(Actor, name=name)
            [reopened] = await read_updates(
                view.port, 1, "/api/events?since=1", "Last-Event-ID: 2\r\n"
            )
            [opened] = await read_updates(view.port, 1, "/api/events?since=1")
    assert (_paths(reopened), _paths(opened)) == (["/c"], ["/b", "/c"])
