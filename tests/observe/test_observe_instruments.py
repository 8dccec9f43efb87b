"""The observe instruments installed on a real runtime: the engine calls their hooks."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing
from observe_actors import Echo, crash, memory_tracing
from opentelemetry.trace import StatusCode

import trouper
from trouper import Actor, ActorRef, handler
from trouper.observe import BUCKETS, Collector, Metrics


@attrs.frozen
class Relay:
    """Ask a ``Relayer`` to tell ``text`` to ``to``."""

    to: ActorRef[object]
    text: str


class Relayer(Actor):
    """Passes a text on to another actor."""

    @handler
    async def relay(self, message: Relay) -> None:
        await message.to.tell(message.text)


class Slow(Actor):
    """Takes a second of (virtual) time per message."""

    @handler
    async def work(self, message: int) -> None:
        await trio.sleep(1)


async def test_the_engine_feeds_the_collector_once_installed() -> None:
    """Installed with ``runtime.instruments.add``, the collector sees starts, failures, letters."""
    collector = Collector()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(collector)
        a = await rt.spawn(Echo, name="a")
        await crash(a)
        await rt.stop(a)
        await a.tell("late")
    assert [(item.kind, item.reason) for item in collector.feed().items] == [
        ("started", None),
        ("dead_letter", "handler failed: ValueError: boom"),
        ("failed", "ValueError: boom"),
        ("restarted", "ValueError: boom"),
        ("started", None),
        ("stopped", None),
        ("dead_letter", "actor stopped"),
    ]


async def test_the_engine_times_handlers_and_mailbox_waits_for_metrics() -> None:
    """Three messages to a slow actor: each takes 1 s; they waited 0, 1 and 2 s in the mailbox."""
    metrics = Metrics(otel=False, sample_every=1, clock=trio.current_time)
    async with trouper.open_runtime() as rt:
        rt.instruments.add(metrics)
        slow = await rt.spawn(Slow, name="slow")
        for n in range(3):
            await slow.tell(n)
        await trio.sleep(5)
        stats = metrics.snapshot().classes["Slow"]
    assert (stats.handled, stats.alive) == (3, 1)
    assert stats.handler_duration.counts[BUCKETS.index(1.0)] == 3
    assert stats.handler_duration.sum == pytest.approx(3.0)
    waits = stats.mailbox_wait.counts
    assert (waits[0], waits[BUCKETS.index(1.0)], waits[BUCKETS.index(2.5)]) == (1, 1, 1)
    assert stats.mailbox_wait.sum == pytest.approx(3.0)


async def test_spans_follow_messages_from_the_caller_through_a_relay() -> None:
    """The test's span -> the relayer's span (ask) -> the echo's span (its tell), one trace."""
    tracing, exporter, provider = memory_tracing()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(tracing)
        echo = await rt.spawn(Echo, name="echo")
        relayer = await rt.spawn(Relayer, name="relayer")
        with provider.get_tracer("test").start_as_current_span("request"):
            await relayer.ask(Relay(echo, "hi"))
        await trio.testing.wait_all_tasks_blocked()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    request, relay, echoed = (
        spans["request"],
        spans["Relayer handle Relay"],
        spans["Echo handle str"],
    )
    assert relay.parent is not None
    assert echoed.parent is not None
    assert relay.parent.span_id == request.context.span_id
    assert echoed.parent.span_id == relay.context.span_id
    assert {span.context.trace_id for span in spans.values()} == {request.context.trace_id}
    assert (relay.attributes or {})["trouper.send.kind"] == "ask"
    assert (echoed.attributes or {})["trouper.send.kind"] == "tell"


async def test_a_failing_handler_gives_an_error_span() -> None:
    """The engine ends a failed handler's span with status ``ERROR``."""
    tracing, exporter, _ = memory_tracing()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(tracing)
        await crash(await rt.spawn(Echo, name="a"))
    (span,) = exporter.get_finished_spans()
    assert (span.status.status_code, span.status.description) == (
        StatusCode.ERROR,
        "ValueError: boom",
    )
