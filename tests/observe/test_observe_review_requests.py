"""Review: malformed query values answer as the API documents, and ``Host`` checks are exact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import trio

import trouper
from trouper import ChildSpec, Supervisor
from trouper.observe import CONTROL_HEADER, ServedView, open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


@asynccontextmanager
async def served(
    rt: trouper.Runtime, *, allow_control: bool = False
) -> AsyncIterator[tuple[ServedView, httpx.AsyncClient]]:
    """The runtime's view on a free loopback port, and a client for it."""
    async with (
        open_view(rt, port=0, interval=0.05, allow_control=allow_control) as view,
        httpx.AsyncClient(base_url=view.url) as client,
    ):
        yield view, client


@pytest.mark.parametrize("value", ["\u00b2", "9" * 5000])
async def test_a_feed_cursor_or_limit_that_is_not_a_plain_number_is_refused(value: str) -> None:
    """``since``, ``limit`` and a page offset that are not plain ASCII counts get a 400."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            await rt.spawn(trouper.Actor, name="a")
            feed = await client.get("/api/feed", params={"since": value, "limit": value})
            tree = await client.get("/api/tree", params={"page": f"/:{value}"})
            async with client.stream(
                "GET",
                "/api/events",
                params={"since": value, "page": f"/:{value}"},
            ) as events:
                streamed = events.status_code
    assert (streamed, feed.status_code, tree.status_code) == (400, 400, 400)
    assert "since" in feed.json()["error"]
    assert "page" in tree.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1.evil.example:8765", "127.evil.example"])
async def test_a_host_name_that_only_starts_like_a_loopback_address_is_refused(host: str) -> None:
    """``127.x.evil.example`` is a name an attacker's DNS can point at 127.0.0.1: refused."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            refused = await client.get("/api/tree", headers={"Host": host})
            local = await client.get("/api/tree", headers={"Host": "127.0.0.2:8765"})
    assert (refused.status_code, local.status_code) == (403, 200)


class FailsItsSecondStart(trouper.Actor):
    """Starts once; every later start fails in ``on_start``."""

    starts = 0

    async def on_start(self) -> None:
        FailsItsSecondStart.starts += 1
        if FailsItsSecondStart.starts > 1:
            raise ValueError("no second start")


async def test_a_restart_whose_start_fails_is_answered_with_the_reason() -> None:
    """``/api/restart`` of a child whose ``on_start`` fails answers 409 with why, not a 500."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt, allow_control=True) as (_view, client):
            await rt.spawn(Supervisor, [ChildSpec("b", FailsItsSecondStart, name="b")], name="sup")
            answer = await client.post("/api/restart/sup/b", headers={CONTROL_HEADER: "1"})
    assert answer.status_code == 409
    assert "no second start" in answer.json()["error"]
