"""Tracing: a span per handled message, parented by the sender's span, ended with the outcome."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
import trio
import trio.testing
from observe_actors import Echo, cell, memory_tracing
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import trouper
from trouper.observe import Tracing
from trouper.runtime.lowlevel import Cell, HandlerOutcome, Instrument, SendKind


class Hangs(trouper.Actor):
    """Never finishes handling a ``str``."""

    @trouper.handler
    async def hang(self, message: str) -> None:
        await trio.sleep_forever()


def _ids(span: ReadableSpan) -> tuple[int, int]:
    assert span.context is not None
    return span.context.trace_id, span.context.span_id


async def test_each_handled_message_is_a_span_named_after_class_and_message() -> None:
    """``handler_started`` opens a span, ``handler_finished`` ends it; attributes name the actor."""
    tracing, exporter, _ = memory_tracing()
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        context = tracing.message_sent(a, "hello", SendKind.ASK)
        tracing.handler_started(a, "hello", context)
        tracing.handler_finished(a, "hello", context, HandlerOutcome(None, "hello"))
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.kind, span.status.status_code, span.parent) == (
        "Echo handle str",
        SpanKind.CONSUMER,
        StatusCode.UNSET,
        None,
    )
    assert dict(span.attributes or {}) == {
        "trouper.actor.path": "/a",
        "trouper.actor.class": "Echo",
        "trouper.message.type": "str",
        "trouper.send.kind": "ask",
    }


async def test_the_span_is_a_child_of_the_senders_span() -> None:
    """A message sent inside a span is handled in a child span of the same trace."""
    tracing, exporter, provider = memory_tracing()
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        with provider.get_tracer("test").start_as_current_span("request") as request:
            context = tracing.message_sent(a, "x", SendKind.TELL)
        tracing.handler_started(a, "x", context)
        tracing.handler_finished(a, "x", context, HandlerOutcome(None))
    handled = next(s for s in exporter.get_finished_spans() if s.name == "Echo handle str")
    assert handled.parent is not None
    assert (handled.parent.trace_id, handled.parent.span_id) == (
        request.get_span_context().trace_id,
        request.get_span_context().span_id,
    )


async def _handle(tracing: Tracing, actor: Cell, message: object, context: object) -> None:
    tracing.handler_started(actor, message, context)
    tracing.handler_finished(actor, message, context, HandlerOutcome(None))


async def test_context_flows_from_a_handler_to_the_actors_it_tells() -> None:
    """While A's handler runs its span is current, so what A sends is handled in A's child span."""
    tracing, exporter, _ = memory_tracing()
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        b = cell(await rt.spawn(Echo, name="b"))
        to_a = tracing.message_sent(a, "first", SendKind.TELL)
        tracing.handler_started(a, "first", to_a)  # in A's task, as the engine does
        to_b = tracing.message_sent(b, 2, SendKind.TELL)
        tracing.handler_finished(a, "first", to_a, HandlerOutcome(None))
        async with trio.open_nursery() as nursery:  # B's handler runs in B's own task
            nursery.start_soon(_handle, tracing, b, 2, to_b)
    by_name = {span.name: span for span in exporter.get_finished_spans()}
    first, second = by_name["Echo handle str"], by_name["Echo handle int"]
    assert second.parent is not None
    assert (second.parent.trace_id, second.parent.span_id) == _ids(first)


async def test_a_failed_handler_ends_its_span_with_an_error() -> None:
    """A handler that raised: status ``ERROR`` with the error, and the exception recorded."""
    tracing, exporter, _ = memory_tracing()
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        context = tracing.message_sent(a, "boom", SendKind.TELL)
        tracing.handler_started(a, "boom", context)
        tracing.handler_finished(a, "boom", context, HandlerOutcome(ValueError("boom")))
    (span,) = exporter.get_finished_spans()
    assert (span.status.status_code, span.status.description) == (
        StatusCode.ERROR,
        "ValueError: boom",
    )
    assert [event.name for event in span.events] == ["exception"]


async def test_a_handler_that_never_finished_is_ended_when_its_actor_stops() -> None:
    """An actor stopped mid-handler (cancelled) still ends its span, as failed."""
    tracing, exporter, _ = memory_tracing()
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Hangs, name="a")
        ref.tell_nowait("x")  # queued before Tracing watches: it carries no context
        rt.instruments.add(tracing)
        await trio.testing.wait_all_tasks_blocked()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert "trouper.send.kind" not in (span.attributes or {})


async def test_a_context_crosses_processes_in_headers() -> None:
    """What ``outgoing_headers`` carries, delivered inside ``received``, parents the span.

    This is how ``trouper.remote`` carries a trace between nodes: the headers
    leave with the message; the receiving node tells its actor inside
    ``received(headers)``.
    """
    tracing, exporter, provider = memory_tracing()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(tracing)
        ref = await rt.spawn(Echo, name="a")
        with provider.get_tracer("test").start_as_current_span("request") as request:
            headers = rt.instruments.outgoing_headers()
        assert set(headers) == {"traceparent"}
        with rt.instruments.received(headers):
            assert await ref.ask("x") == "x"
        assert await ref.ask("after") == "after"  # the sender's context was undone
    handled = [s for s in exporter.get_finished_spans() if s.name == "Echo handle str"]
    assert handled[0].parent is not None
    assert (handled[0].parent.trace_id, handled[0].parent.span_id) == (
        request.get_span_context().trace_id,
        request.get_span_context().span_id,
    )
    assert handled[1].parent is None


class _BrokenHeaders(Instrument):
    def inject_headers(self, headers: dict[str, str]) -> None:
        raise RuntimeError("inject")

    def extract_headers(self, headers: Mapping[str, str]) -> Callable[[], None] | None:
        raise RuntimeError("extract")


async def test_headers_hooks_that_raise_are_logged_and_delivery_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without a headers hook nothing travels; a hook that raises costs only a log record."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="a")
        assert rt.instruments.outgoing_headers() == {}
        rt.instruments.add(_BrokenHeaders())
        assert rt.instruments.outgoing_headers() == {}
        with rt.instruments.received({"traceparent": "garbage"}):
            assert await ref.ask("x") == "x"
    hooks = [record.getMessage().split(" of ")[0] for record in caplog.records]
    assert hooks == [
        "trouper instrument hook <bound method _BrokenHeaders.inject_headers",
        "trouper instrument hook <bound method _BrokenHeaders.extract_headers",
    ]
