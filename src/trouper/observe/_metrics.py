"""Metrics: counts, gauges and histograms per actor class, for OpenTelemetry and Prometheus.

Theory of operation
-------------------
OpenTelemetry's SDK spends microseconds on each ``Counter.add`` or
``Histogram.record``, as much as trouper spends delivering a message, so
nothing per message goes through it. ``Metrics`` keeps plain per-class
tallies in the runtime's thread instead, and OpenTelemetry reads them:

- counters and gauges are *observable* instruments whose callbacks read
  the tallies when a reader collects (messages handled, failures,
  restarts, dead letters, actors alive, mailbox depth); handled messages
  are read off the cells themselves (``cell.handled``), so counting them
  needs no hook at all;
- handler duration and mailbox wait are timed by the per-message hooks
  (only with ``histograms=True``) for one message in ``sample_every`` per
  actor class (the first one included): ``message_sent`` counts down and
  returns the send time for the chosen message only, so the others carry
  nothing (the engine wraps nothing) and their start and finish hooks
  return at once. A timed message goes into local buckets (``/metrics``,
  ``snapshot()``) and into the OpenTelemetry histograms. Counts stay exact
  in the counters; histograms are a sample, as statsd's sample rates are.

The engine calls only the hooks a class overrides, so ``Metrics`` is two
classes: the counting one overrides the lifecycle and dead-letter hooks
only (nothing per message), and the one ``histograms=True`` builds adds the
three message hooks. Callbacks may run in an exporter's thread: they read
copies of the tallies, never the engine's structures.
"""

from __future__ import annotations

import math
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from trouper._text import class_label
from trouper._validate import check_positive_int
from trouper.observe._source import is_alive, walk
from trouper.runtime import DeadLetter, DeadLetterReason, Runtime
from trouper.runtime.lowlevel import HandlerOutcome, Instrument, SendKind

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Histogram, MeterProvider, Observation

    from trouper.runtime.lowlevel import Cell

__all__ = ["BUCKETS", "ClassMetrics", "HistogramData", "Metrics", "MetricsSnapshot"]

BUCKETS: tuple[float, ...] = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Upper bounds (seconds) of the duration and wait histograms' buckets; one more counts the rest."""

_ATTRIBUTE = "trouper.actor.class"
"""The OpenTelemetry attribute that names the actor class."""

_ENGINE_REASONS = frozenset(str(reason) for reason in DeadLetterReason)
"""The engine's dead-letter reasons: always labels of their own."""

_OTHER_REASONS = 20
"""Other reasons (the layers', which may be free text) that get a label of their own, at most."""

_OTHER = "other"
"""The label of the dead letters whose reason came after ``_OTHER_REASONS`` others."""


@attrs.frozen
class HistogramData:
    """A histogram's buckets (``BUCKETS`` and one for the rest), sum and count."""

    counts: tuple[int, ...]
    """Values per bucket, not cumulative: ``counts[i]`` has ``BUCKETS[i-1] < v <= BUCKETS[i]``."""
    sum: float
    """The sum of the values."""

    @property
    def count(self) -> int:
        """How many values there were."""
        return sum(self.counts)


@attrs.frozen
class ClassMetrics:
    """What one actor class did since the instrument was installed."""

    handled: int
    """Messages its actors handled (successfully or not)."""
    failed: int
    """Failures: handlers (or ``on_start``/``on_restart``) that raised."""
    restarts: int
    """Restarts of its actors."""
    alive: int
    """Its actors that have not stopped."""
    mailbox_depth: int
    """Messages waiting in its actors' mailboxes (a shared mailbox counted once)."""
    handler_duration: HistogramData
    """Seconds from a handler's start to its end (empty without ``histograms``)."""
    mailbox_wait: HistogramData
    """Seconds from a send to the start of its handler (empty without ``histograms``)."""


@attrs.frozen
class MetricsSnapshot:
    """Every tally of a ``Metrics`` at one moment."""

    classes: Mapping[str, ClassMetrics]
    """Per actor class name."""
    dead_letters: Mapping[str, int]
    """Dead letters per reason (``"actor stopped"``, ...; after 20 layers' reasons, ``"other"``)."""


class _ClassTally:
    """The running tallies of one actor class."""

    __slots__ = (
        "due",
        "duration",
        "duration_sum",
        "failed",
        "label",
        "restarts",
        "retired",
        "wait",
        "wait_sum",
    )

    def __init__(self, label: str) -> None:
        self.label = label  # the class name, the metrics' label
        self.failed = 0  # failures reported
        self.restarts = 0  # restarts reported
        self.retired = 0  # messages handled by its actors that stopped since, while counted
        self.duration = [0] * (len(BUCKETS) + 1)  # handler durations per bucket
        self.duration_sum = 0.0  # their sum
        self.wait = [0] * (len(BUCKETS) + 1)  # mailbox waits per bucket
        self.wait_sum = 0.0  # their sum
        self.due = 1  # messages until the next one timed (the first one is)


class Metrics(Instrument):
    """Counts and times what actors do, per actor class; exported to OpenTelemetry and Prometheus.

    Install it on a runtime (``runtime.instruments.add(metrics)``, or give it
    to ``trouper.observe.serve``/``open_view``, which serve its Prometheus
    text at ``/metrics``). It counts from the moment it is installed; call
    ``include(runtime)`` to count the actors already running as alive.

    Args:
        meter_provider: where the OpenTelemetry instruments are made; the
            global provider by default.
        otel: make OpenTelemetry instruments at all (needs
            ``opentelemetry-api``, the ``otel`` extra); with ``False`` only
            ``snapshot()`` and ``exposition()`` report.
        histograms: time handlers and mailbox waits (three hooks per
            message, whose cost is mostly the engine's instrumented path).
            Without them nothing runs per message.
        sample_every: time one message in this many per actor class, the
            first one included (default 256; 1 times every message, each
            timing costing about 1 µs locally plus two of the SDK's
            ``Histogram.record``, some 5-8 µs each: at 1 in 64 those records
            alone cost a busy tell a few percent).
        clock: the clock timings are read from (``time.perf_counter``; tests
            on virtual time pass ``trio.current_time``).

    Hooks run in the runtime's thread; the OpenTelemetry callbacks may run
    in an exporter's thread and only read copies.

    Raises:
        ImportError: ``otel=True`` and ``opentelemetry-api`` is not installed.
        ValueError: ``sample_every`` is not an int >= 1.
    """

    __slots__ = (
        "_alive",
        "_clock",
        "_dead",
        "_duration_histogram",
        "_every",
        "_starts",
        "_tallies",
        "_wait_histogram",
    )

    def __new__(
        cls,
        meter_provider: MeterProvider | None = None,
        *,
        otel: bool = True,
        histograms: bool = True,
        sample_every: int = 256,
        clock: Callable[[], float] = time.perf_counter,
    ) -> Metrics:
        return object.__new__(_TimedMetrics if histograms and cls is Metrics else cls)

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        *,
        otel: bool = True,
        histograms: bool = True,
        sample_every: int = 256,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        check_positive_int("sample_every", sample_every)
        # The cells alive, each with its ``handled`` when it started being counted; a cell
        # leaves when its stop is reported, or at ``include`` if it stopped unreported.
        self._alive: dict[Cell, int] = {}
        # Per actor class, its tallies (classes are never forgotten: they are few).
        self._tallies: dict[type, _ClassTally] = {}
        # Dead letters per reason.
        self._dead: dict[str, int] = {}
        # How many timings per class make one OpenTelemetry record.
        self._every = sample_every
        # Where timings are read.
        self._clock = clock
        # The start time of each cell's running handler (filled only when handlers are timed).
        self._starts: dict[Cell, float] = {}
        # The OpenTelemetry histograms (``None``: not exported).
        self._duration_histogram: Histogram | None = None
        self._wait_histogram: Histogram | None = None
        if otel:
            self._make_instruments(meter_provider)

    @property
    def histograms(self) -> bool:
        """Whether handlers and mailbox waits are timed (the per-message hooks are on)."""
        return False

    # --- OpenTelemetry ------------------------------------------------------------

    def _make_instruments(self, provider: MeterProvider | None) -> None:
        try:
            from opentelemetry import metrics
        except ImportError as error:  # pragma: no cover - the extra is installed in tests
            raise ImportError(
                "Metrics(otel=True) needs opentelemetry-api: pip install 'trouper[otel]'"
            ) from error
        from trouper import __version__

        meter = (provider or metrics.get_meter_provider()).get_meter("trouper.observe", __version__)
        meter.create_observable_counter(
            "trouper.messages.handled",
            [self._observe_handled],
            unit="{message}",
            description="Messages handled, by actor class.",
        )
        meter.create_observable_counter(
            "trouper.messages.failed",
            [self._observe_tally("failed")],
            unit="{failure}",
            description="Handlers (or start hooks) that raised, by actor class.",
        )
        meter.create_observable_counter(
            "trouper.actor.restarts",
            [self._observe_tally("restarts")],
            unit="{restart}",
            description="Actor restarts, by actor class.",
        )
        meter.create_observable_counter(
            "trouper.dead_letters",
            [self._observe_dead_letters],
            unit="{message}",
            description="Messages that became dead letters, by reason.",
        )
        meter.create_observable_up_down_counter(
            "trouper.actors.alive",
            [self._observe_alive],
            unit="{actor}",
            description="Actors that have not stopped, by actor class.",
        )
        meter.create_observable_gauge(
            "trouper.mailbox.depth",
            [self._observe_depth],
            unit="{message}",
            description="Messages waiting in mailboxes, by actor class.",
        )
        if self.histograms:
            self._duration_histogram = meter.create_histogram(
                "trouper.handler.duration",
                unit="s",
                description=f"Handler durations, by actor class (1 in {self._every} messages).",
                explicit_bucket_boundaries_advisory=BUCKETS,
            )
            self._wait_histogram = meter.create_histogram(
                "trouper.mailbox.wait",
                unit="s",
                description=f"Time from send to handler start, by actor class "
                f"(1 in {self._every} messages).",
                explicit_bucket_boundaries_advisory=BUCKETS,
            )

    def _observations(self, values: Mapping[str, int], key: str) -> Iterator[Observation]:
        from opentelemetry.metrics import Observation

        for label, value in values.items():
            yield Observation(value, {key: label})

    def _observe_handled(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observations(self._per_class(lambda c: c.handled), _ATTRIBUTE)

    def _observe_tally(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return self._observations(self._per_class(lambda c: getattr(c, field)), _ATTRIBUTE)

        return observe

    def _observe_dead_letters(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observations(self._dead.copy(), "trouper.dead_letter.reason")

    def _observe_alive(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observations(self._per_class(lambda c: c.alive), _ATTRIBUTE)

    def _observe_depth(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observations(self._per_class(lambda c: c.mailbox_depth), _ATTRIBUTE)

    def _per_class(self, field: Callable[[ClassMetrics], int]) -> dict[str, int]:
        return {label: field(metrics) for label, metrics in self.snapshot().classes.items()}

    # --- the instrument's hooks -------------------------------------------------------

    def _tally(self, actor_class: type) -> _ClassTally:
        tally = self._tallies.get(actor_class)
        if tally is None:
            tally = self._tallies[actor_class] = _ClassTally(class_label(actor_class))
        return tally

    def actor_started(self, actor: Cell) -> None:
        """Count ``actor`` as alive (a restart changes nothing)."""
        if actor not in self._alive:
            self._alive[actor] = actor.handled
        self._tally(actor.actor_class)

    def actor_failed(self, actor: Cell, error: BaseException) -> None:
        """Count a failure of ``actor``'s class."""
        self._tally(actor.actor_class).failed += 1

    def actor_restarted(self, actor: Cell, error: BaseException | None) -> None:
        """Count a restart of ``actor``'s class."""
        self._tally(actor.actor_class).restarts += 1

    def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
        """Stop counting ``actor`` as alive; keep what it handled."""
        base = self._alive.pop(actor, None)
        if base is not None:
            self._tally(actor.actor_class).retired += actor.handled - base

    def dead_letter(self, letter: DeadLetter) -> None:
        """Count a dead letter by its reason (past ``_OTHER_REASONS`` layers' texts, ``other``)."""
        dead, reason = self._dead, str(letter.reason)
        # A layer's reason may be free text (an error's, a GiveUp's): bounded, as labels must be.
        if (
            reason not in dead
            and reason not in _ENGINE_REASONS
            and len(dead.keys() - _ENGINE_REASONS) >= _OTHER_REASONS
        ):
            reason = _OTHER
        dead[reason] = dead.get(reason, 0) + 1

    def include(self, runtime: Runtime) -> None:
        """Count the actors already running in ``runtime`` as alive (installed after them).

        Actors that stopped while this was not installed (their stop went
        unreported) are forgotten first, their handled messages kept in their
        class's count, as ``actor_stopped`` would have done.
        """
        missed = [cell for cell in (*self._alive, *self._starts) if not is_alive(cell)]
        for cell in missed:
            self.actor_stopped(cell, None)
        for cell, _ in walk(runtime):
            if is_alive(cell):
                self.actor_started(cell)

    # --- reading ---------------------------------------------------------------------

    def snapshot(self) -> MetricsSnapshot:
        """Every tally now, per actor class (safe to call from another thread)."""
        alive = self._alive.copy()
        tallies = self._tallies.copy()
        handled = {key: tally.retired for key, tally in tallies.items()}
        count: dict[type, int] = dict.fromkeys(tallies, 0)
        depth: dict[type, int] = dict.fromkeys(tallies, 0)
        mailboxes: set[int] = set()
        for cell, base in alive.items():
            key = cell.actor_class
            if key not in handled:
                continue  # a class first seen after the copy
            # A cell that stopped is counted here until its stop is reported.
            handled[key] += cell.handled - base
            if not is_alive(cell):
                continue
            count[key] += 1
            mailbox = cell.mailbox
            if id(mailbox) not in mailboxes:
                mailboxes.add(id(mailbox))
                depth[key] += len(mailbox)
        classes: dict[str, ClassMetrics] = {}
        for key, tally in tallies.items():
            previous = classes.get(tally.label)
            metrics = ClassMetrics(
                handled=handled[key],
                failed=tally.failed,
                restarts=tally.restarts,
                alive=count[key],
                mailbox_depth=depth[key],
                handler_duration=HistogramData(tuple(tally.duration), tally.duration_sum),
                mailbox_wait=HistogramData(tuple(tally.wait), tally.wait_sum),
            )
            classes[tally.label] = metrics if previous is None else _merge(previous, metrics)
        return MetricsSnapshot(classes, self._dead.copy())

    def exposition(self) -> str:
        """The metrics in Prometheus' text exposition format (version 0.0.4)."""
        snapshot = self.snapshot()
        lines: list[str] = []
        classes = sorted(snapshot.classes.items())

        def family(name: str, kind: str, text: str, values: Iterable[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{labels} {_number(value)}" for labels, value in values)

        def per_class(field: Callable[[ClassMetrics], float]) -> Iterator[tuple[str, float]]:
            for label, metrics in classes:
                yield _labels(actor_class=label), field(metrics)

        family(
            "trouper_messages_handled_total",
            "counter",
            "Messages handled, by actor class.",
            per_class(lambda m: m.handled),
        )
        family(
            "trouper_messages_failed_total",
            "counter",
            "Handlers (or start hooks) that raised, by actor class.",
            per_class(lambda m: m.failed),
        )
        family(
            "trouper_actor_restarts_total",
            "counter",
            "Actor restarts, by actor class.",
            per_class(lambda m: m.restarts),
        )
        family(
            "trouper_dead_letters_total",
            "counter",
            "Messages that became dead letters, by reason.",
            ((_labels(reason=reason), n) for reason, n in sorted(snapshot.dead_letters.items())),
        )
        family(
            "trouper_actors_alive",
            "gauge",
            "Actors that have not stopped, by actor class.",
            per_class(lambda m: m.alive),
        )
        family(
            "trouper_mailbox_depth",
            "gauge",
            "Messages waiting in mailboxes, by actor class.",
            per_class(lambda m: m.mailbox_depth),
        )
        if self.histograms:
            lines.extend(
                _histogram_family(
                    "trouper_handler_duration_seconds",
                    "Handler durations, by actor class.",
                    ((label, metrics.handler_duration) for label, metrics in classes),
                )
            )
            lines.extend(
                _histogram_family(
                    "trouper_mailbox_wait_seconds",
                    "Time from send to handler start, by actor class.",
                    ((label, metrics.mailbox_wait) for label, metrics in classes),
                )
            )
        return "\n".join(lines) + "\n"


def _merge(a: ClassMetrics, b: ClassMetrics) -> ClassMetrics:
    """Two classes with one name (from different modules) report as one."""

    def both(x: HistogramData, y: HistogramData) -> HistogramData:
        return HistogramData(
            tuple(i + j for i, j in zip(x.counts, y.counts, strict=True)), x.sum + y.sum
        )

    return ClassMetrics(
        a.handled + b.handled,
        a.failed + b.failed,
        a.restarts + b.restarts,
        a.alive + b.alive,
        a.mailbox_depth + b.mailbox_depth,
        both(a.handler_duration, b.handler_duration),
        both(a.mailbox_wait, b.mailbox_wait),
    )


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate (a name made with ``surrogateescape``): it has no UTF-8 form."""


def _escape(value: str) -> str:
    value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if not value.isascii():
        # Written as JSON writes it (``\udcff``), its backslash escaped as the
        # format wants: the exposition is UTF-8 text, the answer would fail.
        value = _SURROGATE.sub(lambda lone: f"\\\\u{ord(lone[0]):04x}", value)
    return value


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _histogram_family(
    name: str, text: str, histograms: Iterable[tuple[str, HistogramData]]
) -> Iterator[str]:
    yield f"# HELP {name} {text}"
    yield f"# TYPE {name} histogram"
    for label, data in histograms:
        cumulative = 0
        for bound, count in zip((*BUCKETS, math.inf), data.counts, strict=True):
            cumulative += count
            le = "+Inf" if math.isinf(bound) else repr(bound)
            yield f"{name}_bucket{_labels(actor_class=label, le=le)} {cumulative}"
        yield f"{name}_sum{_labels(actor_class=label)} {_number(data.sum)}"
        yield f"{name}_count{_labels(actor_class=label)} {cumulative}"


class _TimedMetrics(Metrics):
    """``Metrics`` with handler and mailbox-wait timings: three hooks per message."""

    __slots__ = ()

    # Only the sampled messages carry a send time; the engine calls the handler hooks
    # for those alone, so the others cost one ``message_sent`` call.
    only_carried = True

    @property
    def histograms(self) -> bool:
        """Whether handlers and mailbox waits are timed (the per-message hooks are on)."""
        return True

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        """Carry the send time with one message in ``sample_every`` of its class (else nothing)."""
        tally = self._tallies.get(actor.actor_class) or self._tally(actor.actor_class)
        tally.due -= 1
        if tally.due:
            return None  # not timed: the engine carries nothing with it
        tally.due = self._every
        return self._clock()

    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        """Time a timed message's mailbox wait; note its handler's start."""
        if type(context) is not float:
            return  # not timed (or another clock's: the engine never mixes them)
        now = self._clock()
        tally = self._tallies.get(actor.actor_class) or self._tally(actor.actor_class)
        wait = now - context
        tally.wait[bisect_left(BUCKETS, wait)] += 1
        tally.wait_sum += wait
        if self._wait_histogram is not None:
            self._wait_histogram.record(wait, {_ATTRIBUTE: tally.label})
            # The handler starts after the SDK's record (microseconds): not its time.
            now = self._clock()
        self._starts[actor] = now

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        """Time a timed message's handler."""
        if context is None:
            return
        start = self._starts.pop(actor, None)
        if start is None:
            return
        duration = self._clock() - start
        tally = self._tallies.get(actor.actor_class) or self._tally(actor.actor_class)
        tally.duration[bisect_left(BUCKETS, duration)] += 1
        tally.duration_sum += duration
        if self._duration_histogram is not None:
            self._duration_histogram.record(duration, {_ATTRIBUTE: tally.label})

    def actor_stopped(self, actor: Cell, reason: BaseException | None) -> None:
        """Stop counting ``actor`` as alive; forget a handler it never finished."""
        self._starts.pop(actor, None)
        super().actor_stopped(actor, reason)
