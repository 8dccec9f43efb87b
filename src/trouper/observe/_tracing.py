"""Tracing: one OpenTelemetry span per handled message, parented by whoever sent it.

Theory of operation
-------------------
The engine hands each instrument back the context its ``message_sent``
returned, with the message, to ``handler_started`` and ``handler_finished``.
``Tracing`` returns the sender's current OpenTelemetry context there (a
context-variable read, in the sender's task), so the span it starts when the
handler starts is a child of the span the sender was in: a handler that
tells or asks another actor makes the receiver's span a child of its own,
and a web request handler that asks an actor makes the actor's span a
child of the request's.

While the handler runs its span is the current one in the cell's task
(``context.attach`` at start, ``detach`` at the end, in the same task), so
the handler's own sends, and any OpenTelemetry-instrumented library it
calls, see it. A handler a restart or a stop cuts off is reported finished by
the engine too (``HandlerOutcome.cut_by``): its span ends as failed then,
in the actor's task.

Across nodes the context travels in the message's headers, through the
global OpenTelemetry propagator (W3C ``traceparent`` by default):
``inject_headers`` writes the sender's current context there, and
``extract_headers`` attaches the context they carry while the receiving
node delivers the message, so ``message_sent`` on that node carries it to
the handler's span as if the sender were local.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from trouper._text import class_label
from trouper.runtime.lowlevel import HandlerOutcome, Instrument, SendKind

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from trouper.runtime.lowlevel import Cell

__all__ = ["Tracing"]

log = logging.getLogger("trouper.observe")


class Tracing(Instrument):
    """Traces actors with OpenTelemetry: a span per handled message, child of the sender's span.

    Install it on a runtime (``runtime.instruments.add(Tracing())``). Spans
    are named ``"<ActorClass> handle <MessageType>"``, of kind ``CONSUMER``,
    with the attributes ``trouper.actor.path``, ``trouper.actor.class``,
    ``trouper.message.type`` and ``trouper.send.kind`` (``tell``,
    ``tell_nowait`` or ``ask``; absent for messages the runtime sent itself).
    A handler that raises ends its span with status ``ERROR`` and the
    exception recorded.

    Hooks run in the runtime's thread; the span of a running handler is the
    current span in the actor's task while it runs.

    Args:
        tracer_provider: where spans go; the global provider by default.

    Raises:
        ImportError: ``opentelemetry-api`` is not installed (the ``otel`` extra).
    """

    __slots__ = (
        "_active",
        "_attach",
        "_consumer",
        "_detach",
        "_empty",
        "_extract",
        "_get_current",
        "_in_context",
        "_inject",
        "_names",
        "_tracer",
    )

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        try:
            from opentelemetry import context, propagate, trace
        except ImportError as error:  # pragma: no cover - the extra is installed in tests
            raise ImportError(
                "Tracing needs opentelemetry-api: pip install 'trouper[otel]'"
            ) from error
        from trouper import __version__

        provider = tracer_provider or trace.get_tracer_provider()
        # Where spans are made.
        self._tracer: Tracer = provider.get_tracer("trouper.observe", __version__)
        # Each cell's running handler: its span and the token that made it current.
        self._active: dict[Cell, tuple[Span, Token[Context]]] = {}
        # Span names per (actor class, message type), made once.
        self._names: dict[tuple[type, type], str] = {}
        # OpenTelemetry's functions and constants, looked up once.
        self._get_current = context.get_current
        self._attach = context.attach
        self._detach = context.detach
        self._in_context = trace.set_span_in_context
        self._consumer = trace.SpanKind.CONSUMER
        self._inject = propagate.inject
        self._extract = propagate.extract
        # The parent of a message nobody's span sent: none.
        self._empty = context.Context()

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        """Carry the sender's current context (and how it sent) with the message."""
        return (self._get_current(), kind)

    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        """Start the handler's span, a child of the sender's, and make it current.

        Never raises (the engine would fail the handler): a tracing error is logged.
        """
        try:
            self._start(actor, message, context)
        except Exception:
            log.exception("trouper.observe.Tracing could not start a span (ignored)")

    def _start(self, actor: Cell, message: object, context: object) -> None:
        parent = self._empty
        attributes: dict[str, str] = {
            "trouper.actor.path": actor.address.path,
            "trouper.actor.class": class_label(actor.actor_class),
            "trouper.message.type": type(message).__qualname__,
        }
        if type(context) is tuple:
            parent, kind = context
            attributes["trouper.send.kind"] = kind.value
        key = (actor.actor_class, type(message))
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = (
                f"{class_label(actor.actor_class)} handle {type(message).__qualname__}"
            )
        span = self._tracer.start_span(
            name, context=parent, kind=self._consumer, attributes=attributes
        )
        self._active[actor] = (span, self._attach(self._in_context(span)))

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        """End the handler's span with its outcome."""
        active = self._active.pop(actor, None)
        if active is None:
            return
        span, token = active
        error = outcome.error
        try:
            if error is not None:
                _fail(span, error)
        finally:
            # Whatever the error's text does, the span ends and the cell's task
            # leaves it: a span left current would parent what the task does next.
            span.end()
            self._detach(token)

    def inject_headers(self, headers: dict[str, str]) -> None:
        """Write the sender's current context into a message's headers for another node."""
        self._inject(headers)

    def extract_headers(self, headers: Mapping[str, str]) -> Callable[[], None] | None:
        """Make the context ``headers`` carry current while the message is delivered here."""
        token = self._attach(self._extract(headers))
        return partial(self._detach, token)


def _fail(span: Span, error: BaseException) -> None:
    """Mark ``span`` failed by ``error``; never raises (a user's error may break its ``str``)."""
    from opentelemetry.trace import Status, StatusCode

    try:
        text = str(error)
    except Exception as broken:
        text = f"<str() raised {type(broken).__name__}>"
    else:
        # The SDK's ``record_exception`` reads ``str(error)`` too: no event without it.
        span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {text}"))
