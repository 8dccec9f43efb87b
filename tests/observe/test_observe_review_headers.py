"""Review: no other site may frame the page (clickjacking its Stop button) or sniff answers."""

from __future__ import annotations

import httpx
import pytest
import trio

import trouper
from trouper.observe import open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


@pytest.mark.parametrize("path", ["/", "/api/tree", "/metrics", "/api/stop/a"])
async def test_every_answer_forbids_framing_and_content_sniffing(path: str) -> None:
    """The page and every answer say: frame me nowhere, take my content type as it is."""
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, allow_control=True) as view,
            httpx.AsyncClient(base_url=view.url) as client,
        ):
            response = await client.request("POST" if "stop" in path else "GET", path)
    headers = response.headers
    assert response.status_code in {200, 403}
    assert (headers["x-frame-options"], headers["x-content-type-options"]) == ("DENY", "nosniff")
    assert headers["content-security-policy"] == "frame-ancestors 'none'"
