"""Review 26: a query value the live view cannot read is answered 400, naming it and why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import trio

import trouper
from trouper.observe import ServedView, open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


@asynccontextmanager
async def served(rt: trouper.Runtime) -> AsyncIterator[tuple[ServedView, httpx.AsyncClient]]:
    """The runtime's view on a free loopback port, and a client for it."""
    async with (
        open_view(rt, port=0, interval=0.05) as view,
        httpx.AsyncClient(base_url=view.url) as client,
    ):
        yield view, client


NOT_A_COUNT = "must be a whole number >= 0 in ASCII digits"

BAD = [
    ("/api/feed?limit=abc", f"limit {NOT_A_COUNT}, got 'abc'"),
    ("/api/feed?limit=-1", f"limit {NOT_A_COUNT}, got '-1'"),
    ("/api/feed?limit=1e999", f"limit {NOT_A_COUNT}, got '1e999'"),
    ("/api/feed?limit=", f"limit {NOT_A_COUNT}, got ''"),
    ("/api/feed?limit=%C2%B2", f"limit {NOT_A_COUNT}, got '\u00b2'"),
    ("/api/feed?limit=1&limit=2", "limit is given 2 times: give it once"),
    ("/api/feed?since=" + "9" * 19, "since must have at most 18 digits, got 19 digits"),
    ("/api/feed?since=x", f"since {NOT_A_COUNT}, got 'x'"),
    ("/api/tree?page=/:x", f"page /:x: the offset {NOT_A_COUNT}, got 'x'"),
    ("/api/tree?page=12", "page must be PATH:N (N the first child shown), got '12'"),
    ("/api/events?since=-5", f"since {NOT_A_COUNT}, got '-5'"),
    ("/api/events?page=/a:-1", f"page /a:-1: the offset {NOT_A_COUNT}, got '-1'"),
]


@pytest.mark.parametrize(("target", "error"), BAD)
async def test_a_malformed_query_value_is_answered_400_saying_which_and_why(
    target: str, error: str
) -> None:
    """``limit=abc``, ``limit=-1``, a bad page offset...: a 400 naming the parameter, no default."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            answer = await client.get(target)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": error}


async def test_a_malformed_last_event_id_is_answered_400() -> None:
    """A ``Last-Event-ID`` that is not a feed cursor is refused as the header it is."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            answer = await client.get("/api/events", headers={"Last-Event-ID": "abc"})
    assert answer.status_code == 400
    assert answer.json() == {"error": f"the Last-Event-ID header {NOT_A_COUNT}, got 'abc'"}


async def test_well_formed_values_are_read() -> None:
    """``limit``, ``since`` and a page offset in plain digits are taken as given."""
    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as (_view, client):
            for n in range(3):
                await rt.spawn(trouper.Actor, name=f"a{n}")
            feed = await client.get("/api/feed", params={"since": "1", "limit": "1"})
            tree = await client.get("/api/tree", params={"page": "/:0"})
    assert feed.status_code == 200
    assert [item["path"] for item in feed.json()["items"]] == ["/a2"]
    assert [row["path"] for row in tree.json()["rows"]] == ["/a0", "/a1", "/a2"]
