"""``examples/threads_portal.py``: a Flask app on werkzeug's threaded server, through the portal.

The runtime runs in the test's Trio run; the WSGI server and the HTTP client run in threads
(``trio.to_thread``), as they do in the example.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import trio
from werkzeug.serving import make_server

import trouper

pytestmark = pytest.mark.real_clock

T = TypeVar("T")

_spec = importlib.util.spec_from_file_location(
    "threads_portal", Path(__file__).resolve().parents[2] / "examples" / "threads_portal.py"
)
assert _spec is not None
assert _spec.loader is not None
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

DEADLINE = 20
"""Seconds a test may take."""


@asynccontextmanager
async def served(rt: trouper.Runtime, *, charge_seconds: float = 0.0) -> AsyncIterator[str]:
    """Serve the example's app for ``rt`` on a free loopback port, from a thread; yield its URL."""
    app = example.create_app(rt.portal, charge_seconds=charge_seconds)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, lambda: server.serve_forever(0.05))
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(server.shutdown)


async def in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking client call in a worker thread, as a real client would be elsewhere."""
    return await trio.to_thread.run_sync(fn)


async def test_requests_from_many_threads_all_reach_the_actor() -> None:
    """Forty adds from eight client threads at once: each is told, none is lost."""

    def add_forty(url: str) -> list[int]:
        with httpx.Client(base_url=url) as client, ThreadPoolExecutor(8) as threads:
            assert client.post("/carts/a").status_code == 201
            replies = threads.map(lambda i: client.post(f"/carts/a/items/x{i:02}"), range(40))
            codes = [reply.status_code for reply in replies]
            assert client.get("/carts/a").json()["items"] == [f"x{i:02}" for i in range(40)]
            return codes

    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as url:
            codes = await in_thread(lambda: add_forty(url))
    assert codes == [202] * 40


async def test_an_ask_slower_than_its_timeout_is_a_504() -> None:
    """``portal.ask(..., timeout=1)`` raises ``TooSlowError`` in the request thread: a 504."""

    def checkout(url: str) -> httpx.Response:
        with httpx.Client(base_url=url) as client:
            assert client.post("/carts/slow").status_code == 201
            return client.post("/carts/slow/checkout")

    with trio.fail_after(DEADLINE):
        async with (
            trouper.open_runtime(shutdown=0.1) as rt,
            served(rt, charge_seconds=60) as url,
        ):
            reply = await in_thread(lambda: checkout(url))
    assert reply.status_code == 504
    assert reply.json() == {"error": "too slow"}


async def test_a_trouper_error_is_a_500_with_its_message() -> None:
    """Opening a cart twice: ``portal.spawn`` raises ``NameTaken`` in the request thread."""

    def open_twice(url: str) -> httpx.Response:
        with httpx.Client(base_url=url) as client:
            assert client.post("/carts/a").status_code == 201
            return client.post("/carts/a")

    with trio.fail_after(DEADLINE):
        async with trouper.open_runtime() as rt, served(rt) as url:
            reply = await in_thread(lambda: open_twice(url))
    assert reply.status_code == 500
    assert reply.json() == {"error": "an actor named 'cart-a' already exists"}
