"""``examples/asyncio_web.py`` served by uvicorn in a subprocess, driven over HTTP with httpx.

Each test starts uvicorn (``uvicorn.Server.run``, as ``uvicorn asyncio_web:app`` does) in a
child process on a loopback socket the test binds and listens on first, so requests made
while the server starts wait in the socket's backlog: no polling for readiness.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx
import pytest
import trio

pytestmark = pytest.mark.real_clock

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEADLINE = 30
"""Seconds a test may take, server start and stop included."""

LAUNCH = """
import socket, sys, uvicorn
sys.path.insert(0, {examples!r})
from asyncio_web import app
config = uvicorn.Config(app, log_level="info", access_log=False)
uvicorn.Server(config).run(sockets=[socket.socket(fileno={fd})])
"""


@attrs.define
class Server:
    """A running example server: an HTTP client for it, its process, and what it printed."""

    client: httpx.AsyncClient
    process: trio.Process
    stdout: bytearray = attrs.field(factory=bytearray)
    stderr: bytearray = attrs.field(factory=bytearray)

    async def stop(self) -> None:
        """Send SIGTERM, as a process manager would, and wait for the process to end."""
        self.process.send_signal(signal.SIGTERM)
        await self.process.wait()


async def _collect(stream: trio.abc.ReceiveStream | None, into: bytearray) -> None:
    assert stream is not None
    async for chunk in stream:
        into += chunk


@asynccontextmanager
async def serving() -> AsyncIterator[Server]:
    """Start the example under uvicorn on a free loopback port; stop it when done."""
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    code = LAUNCH.format(examples=str(EXAMPLES), fd=listener.fileno())
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", code],
        pass_fds=(listener.fileno(),),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    listener.close()
    try:
        async with (
            httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=DEADLINE) as client,
            trio.open_nursery() as nursery,
        ):
            server = Server(client, process)
            nursery.start_soon(_collect, process.stdout, server.stdout)
            nursery.start_soon(_collect, process.stderr, server.stderr)
            yield server
            if process.returncode is None:
                await server.stop()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()


async def test_fifty_concurrent_requests_are_all_answered() -> None:
    """50 requests at once each get a 200 and their own count: 1 to 50, none lost."""
    with trio.fail_after(DEADLINE):
        async with serving() as server:
            hits: list[int] = []

            async def visit() -> None:
                response = await server.client.get("/visit/load")
                assert response.status_code == 200
                hits.append(response.json()["hits"])

            async with trio.open_nursery() as nursery:
                for _ in range(50):
                    nursery.start_soon(visit)
    assert sorted(hits) == list(range(1, 51))


async def test_a_crash_in_a_request_is_a_json_500_and_the_actor_restarts() -> None:
    """The crashing request gets a 500 with a JSON error; the counter restarts and answers."""
    with trio.fail_after(DEADLINE):
        async with serving() as server:
            assert (await server.client.get("/visit/home")).json()["hits"] == 1
            crashed = await server.client.get("/visit/crash")
            after = await server.client.get("/visit/home")
            stats = (await server.client.get("/stats")).json()
    assert crashed.status_code == 500
    assert crashed.headers["content-type"] == "application/json"
    assert crashed.json() == {
        "error": "handler of trouper://local/counter raised RuntimeError('asked to crash')"
    }
    assert after.status_code == 200
    assert after.json() == {"page": "home", "hits": 1}  # a fresh instance: the count restarted
    assert stats["/counter"] == [3, 1]  # three messages handled, one restart


async def test_stopping_the_server_stops_the_runtime_cleanly() -> None:
    """SIGTERM: uvicorn's lifespan shutdown stops every actor, with no traceback anywhere."""
    with trio.fail_after(DEADLINE):
        async with serving() as server:
            assert (await server.client.post("/reset/home")).status_code == 202
            assert (await server.client.get("/visit/home")).status_code == 200
            await server.stop()
    # uvicorn re-raises the signal it shut down for, once the shutdown is complete.
    assert server.process.returncode == -signal.SIGTERM
    assert server.stdout.decode().splitlines() == ["auditor stopped", "runtime stopped"]
    errors = server.stderr.decode()
    assert "Application shutdown complete." in errors
    assert "Traceback" not in errors
    assert "ERROR" not in errors
