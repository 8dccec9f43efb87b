"""Metrics: a timed handler's duration is the handler's, not the instrument's own records."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from observe_actors import Echo, cell
from opentelemetry.metrics import Histogram, NoOpHistogram, NoOpMeter, NoOpMeterProvider
from opentelemetry.util.types import Attributes

import trouper
from trouper.observe import Metrics
from trouper.runtime.lowlevel import HandlerOutcome, SendKind


@attrs.define
class Clock:
    """A clock that moves only when told to."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


class SlowHistogram(NoOpHistogram):
    """A histogram whose ``record`` takes ``cost`` seconds of ``clock`` (an SDK's few µs)."""

    def __init__(self, name: str, clock: Clock, cost: float) -> None:
        super().__init__(name)
        self.clock, self.cost = clock, cost

    def record(self, amount: float, attributes: Attributes = None, context: object = None) -> None:
        self.clock.now += self.cost


class SlowMeter(NoOpMeter):
    """Makes ``SlowHistogram``s."""

    def __init__(self, clock: Clock, cost: float) -> None:
        super().__init__("slow")
        self.clock, self.cost = clock, cost

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Histogram:
        return SlowHistogram(name, self.clock, self.cost)


class SlowMeterProvider(NoOpMeterProvider):
    """Hands out one ``SlowMeter``."""

    def __init__(self, meter: SlowMeter) -> None:
        self.meter = meter

    def get_meter(self, name: str, *args: object, **kwargs: object) -> SlowMeter:
        return self.meter


async def test_handler_duration_leaves_out_the_mailbox_wait_record() -> None:
    """A handler that takes no time is timed 0, however long recording its wait took."""
    clock = Clock()
    metrics = Metrics(SlowMeterProvider(SlowMeter(clock, 0.5)), sample_every=1, clock=clock)
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        context = metrics.message_sent(a, "x", SendKind.TELL)
        clock.now += 0.25  # the message waits in the mailbox
        metrics.handler_started(a, "x", context)
        metrics.handler_finished(a, "x", context, HandlerOutcome(None, "x"))  # took no time
        echo = metrics.snapshot().classes["Echo"]
    assert (echo.mailbox_wait.sum, echo.handler_duration.sum) == (0.25, 0.0)
