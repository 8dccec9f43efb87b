"""Tracing: a handler's span ends, and its context is undone, whatever the error's ``str`` does."""

from __future__ import annotations

import pytest
from observe_actors import memory_tracing
from opentelemetry.trace import StatusCode

import trouper


class Mute(Exception):
    """An error whose ``str`` raises."""

    def __str__(self) -> str:
        raise RuntimeError("no str")


class FailsMute(trouper.Actor):
    """Fails with a ``Mute`` error."""

    @trouper.handler
    async def fail(self, message: str) -> None:
        raise Mute


async def test_a_failed_span_ends_even_if_the_errors_str_raises() -> None:
    """The span ends with status ``ERROR`` and the error's type (it was never ended)."""
    tracing, exporter, _ = memory_tracing()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(tracing)
        ref = await rt.spawn(FailsMute, name="a")
        with pytest.raises(trouper.HandlerError):
            await ref.ask("boom")
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.status.status_code, span.status.description) == (
        "FailsMute handle str",
        StatusCode.ERROR,
        "Mute: <str() raised RuntimeError>",
    )
