"""A trace crosses nodes: the span of a remote handler is a child of the sender's span."""

from __future__ import annotations

import pytest
import trio
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from remote_support import Account, Balance, Deposit, Gate, Slow, nodes, wait_for

from trouper.observe import Tracing
from trouper.remote import Nats, cluster_of

pytestmark = pytest.mark.real_clock


def _traced() -> tuple[Tracing, InMemorySpanExporter, TracerProvider]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider), exporter, provider


def _parents(exporter: InMemorySpanExporter, name: str) -> list[tuple[int, int] | None]:
    """The (trace id, span id) of the parent of each finished span called ``name``."""
    spans: list[ReadableSpan] = [s for s in exporter.get_finished_spans() if s.name == name]
    return [None if s.parent is None else (s.parent.trace_id, s.parent.span_id) for s in spans]


async def test_a_remote_tell_and_ask_are_handled_in_children_of_the_senders_span(
    transport: Nats,
) -> None:
    """With ``Tracing`` on both nodes, the W3C trace context travels in the NATS headers."""
    tracing, exporter, provider = _traced()
    async with nodes(transport, "bank", "web") as (bank, web):
        bank.instruments.add(tracing)
        web.instruments.add(tracing)
        await bank.spawn(Account, 10, name="acct-1")
        acct = web.remote("bank", "acct-1")
        with provider.get_tracer("test").start_as_current_span("request") as request:
            await acct.tell(Deposit(5))
            await acct.tell(Deposit(1), msg_id="deposit-1")  # an id travels beside the context
            with trio.fail_after(5):
                assert await acct.ask(Balance()) == 16
        with trio.fail_after(5):
            assert await acct.ask(Balance()) == 16  # outside any span: a root span there
    context = request.get_span_context()
    assert _parents(exporter, "Account handle Deposit") == [(context.trace_id, context.span_id)] * 2
    assert _parents(exporter, "Account handle Balance") == [
        (context.trace_id, context.span_id),
        None,
    ]


async def test_a_tell_held_for_a_full_mailbox_keeps_its_trace_context(transport: Nats) -> None:
    """A message the receiving node holds until there is room is still a child of its sender."""
    tracing, exporter, provider = _traced()
    gate = trio.Event()
    seen: list[int] = []
    async with nodes(transport, "a", "b") as (a, b):
        b.instruments.add(tracing)
        a.instruments.add(tracing)
        await b.spawn(Gate, gate, seen, name="gate", mailbox_size=1)
        target = a.remote("b", "gate")
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("first") as first:
            for n in range(3):  # one handled (waiting at the gate), one queued, one held
                await target.tell(Slow(n))
        with tracer.start_as_current_span("second") as second:
            await target.tell(Slow(3))  # held after the other
        with trio.fail_after(5):
            await wait_for(lambda: cluster_of(b).statistics().held == 2)
            gate.set()
            await wait_for(lambda: seen == [0, 1, 2, 3])
    parents = [
        (c.trace_id, c.span_id) for c in (first.get_span_context(), second.get_span_context())
    ]
    assert _parents(exporter, "Gate handle Slow") == [parents[0]] * 3 + [parents[1]]
