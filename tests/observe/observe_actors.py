"""Actors and helpers the observe tests share."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import attrs
import trio
import trio.testing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import trouper
from trouper import Actor, ActorRef, handler
from trouper.observe import Tracing
from trouper.runtime.lowlevel import Cell, cell_of


@attrs.frozen
class Spawn:
    """Ask a ``Parent`` to spawn a child ``Echo`` with this name."""

    name: str


@attrs.frozen
class Log:
    """Ask an ``Echo`` to log this text on the ``observe.tests`` logger."""

    text: str


class Echo(Actor):
    """Replies with what it is asked; fails on ``"boom"``; logs ``Log`` messages."""

    @handler
    async def echo(self, message: str) -> str:
        if message == "boom":
            raise ValueError("boom")
        return message

    @handler
    async def log(self, message: Log) -> None:
        logging.getLogger("observe.tests").warning("%s", message.text)


class Starting(Echo):
    """An ``Echo`` with ``on_start`` and ``on_stop`` hooks, as a supervisor's spec child."""

    async def on_start(self) -> None:
        pass

    async def on_stop(self) -> None:
        pass


class Parent(Echo):
    """An ``Echo`` that spawns children on request."""

    @handler
    async def spawn(self, message: Spawn) -> ActorRef[object]:
        return await self.ctx.spawn(Echo, name=message.name)


def cell(ref: ActorRef[object]) -> Cell:
    """The cell behind a local ref (what the engine hands instruments)."""
    return cell_of(ref)


async def crash(ref: ActorRef[object]) -> None:
    """Make an ``Echo`` fail once, and wait until its supervisor has restarted it."""
    with contextlib.suppress(trouper.HandlerError):
        await ref.ask("boom")
    await trio.testing.wait_all_tasks_blocked()


def memory_tracing() -> tuple[Tracing, InMemorySpanExporter, TracerProvider]:
    """A ``Tracing`` whose finished spans the exporter keeps, and the provider it traces with."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider), exporter, provider


async def read_updates(
    port: int, count: int, target: str = "/api/events", headers: str = ""
) -> list[dict[str, Any]]:
    """The first ``count`` updates of the stream ``GET target``, read on a connection of its own.

    ``headers``: more header lines, each ending with ``\\r\\n``.
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n"
        await stream.send_all(request.encode())
        received = b""
        while received.count(b"\n\n") < count + 1:  # the head, then one per update
            received += await stream.receive_some(65536)
    lines = received.decode().splitlines()
    return [json.loads(line[6:]) for line in lines if line.startswith("data: ")][:count]
