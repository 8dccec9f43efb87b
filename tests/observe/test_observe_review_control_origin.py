"""Review: a control request with a malformed ``Origin`` is refused (403, JSON), not a 500."""

from __future__ import annotations

import httpx
import pytest
import trio
from observe_actors import Echo

import trouper
from trouper.observe import CONTROL_HEADER, open_view

pytestmark = pytest.mark.real_clock

DEADLINE = 10.0
"""Seconds any one test may wait for the server."""


@pytest.mark.parametrize("origin", ["http://[::1", "http://[evil]:80"])
async def test_a_malformed_origin_is_refused_as_another_origin(origin: str) -> None:
    """``urlsplit`` cannot read such an Origin: refused as foreign (403), and nothing stops."""
    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime() as rt,
            open_view(rt, port=0, allow_control=True) as view,
            httpx.AsyncClient(base_url=view.url) as client,
        ):
            await rt.spawn(Echo, name="a")
            response = await client.post(
                "/api/stop/a", headers={CONTROL_HEADER: "1", "Origin": origin}
            )
            alive = rt.lookup("a") is not None
    assert (response.status_code, response.headers["content-type"], alive) == (
        403,
        "application/json",
        True,
    )
    assert response.json()["error"] == f"refused a control request from another origin ({origin})"
