"""Review 5: a page that named more paths than a request takes has its latest choices kept.

The page keeps every path it opened or closed (actors gone since included)
and sends them all, oldest first; past 200 the newest were dropped, so a
node the user had just opened stayed closed.
"""

from __future__ import annotations

import httpx
import pytest
import trio
from observe_actors import Parent, Spawn

import trouper
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


async def test_the_newest_of_too_many_opened_paths_are_kept() -> None:
    """``/p``, opened after 200 paths of actors long gone, shows its children."""
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, max_rows=4) as view,
            httpx.AsyncClient(base_url=view.url) as client,
        ):
            parent = await rt.spawn(Parent, name="p")
            for n in range(4):
                await parent.ask(Spawn(f"c{n}"))
            gone = [("open", f"/gone-{n}") for n in range(200)]
            tree = (await client.get("/api/tree", params=[*gone, ("open", "/p")])).json()
            default = (await client.get("/api/tree")).json()
    assert [row["path"] for row in default["rows"]] == ["/p"]
    assert [row["path"] for row in tree["rows"]] == ["/p", "/p/c0", "/p/c1", "/p/c2"]
