"""Observability's cost: the tell and ask rows with trouper.observe's instruments on and off.

Each workload is the ``bench.trouper_side`` tell or ask with an instrument
installed (``runtime.instruments.add``) before the actor is spawned; its
baseline ("off") is the same workload with nothing installed, so the ratio is
what the instrument costs (the issue's target: metrics on, the tell row
costs at most 20%, a ratio of at least 1/1.2). ``python -m bench.observe_bench``
runs these rows alone and prints, besides, the cost of each hook called
directly (ns per message). To show them in ``make bench``, extend
``bench.workloads.WORKLOADS`` with ``rows()`` (this module imports
``bench.workloads`` and ``bench.runner`` only inside functions, so
``bench.workloads`` may import it at its top).

The instruments: ``EmptyHooks`` (the three message hooks, doing nothing: what
the engine's instrumented path costs by itself); the view's ``Collector``
(lifecycle hooks only); ``Metrics``
counting only (``histograms=False``, no per-message hook); ``Metrics`` with
histograms (three hooks per message; one message in 256 timed, into an
OpenTelemetry SDK ``MeterProvider``); ``Tracing`` into an OpenTelemetry SDK
``TracerProvider`` with no span processor (every span is made and ended,
nothing is exported: the instrument's own cost).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING

import trio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from trio.testing import wait_all_tasks_blocked

import trouper
from bench.common import MAILBOX_SIZE, PING, Sample, Tally, rate
from bench.trouper_side import Counter
from trouper import ActorRef
from trouper.observe import Collector, Metrics, Tracing
from trouper.runtime.lowlevel import Cell, HandlerOutcome, Instrument, SendKind, cell_of

if TYPE_CHECKING:
    from bench.workloads import Workload

__all__ = ["HOOKED", "INSTRUMENTS", "EmptyHooks", "hook_costs", "main", "rows"]

TELL_SIZE = 200_000
ASK_SIZE = 20_000

METRICS_TARGET = 1 / 1.2
"""Metrics on: the tell row costs at most 20% (rate ratio >= 1/1.2)."""


class EmptyHooks(Instrument):
    """Implements the per-message hooks and does nothing: the engine's own share of the cost."""

    def message_sent(self, actor: Cell, message: object, kind: SendKind) -> object:
        """Carry nothing."""
        return None

    def handler_started(self, actor: Cell, message: object, context: object) -> None:
        """Do nothing."""

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        """Do nothing."""


def _metrics() -> Instrument:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    return Metrics(provider)


def _counting() -> Instrument:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    return Metrics(provider, histograms=False)


def _tracing() -> Instrument:
    return Tracing(TracerProvider(shutdown_on_exit=False))


INSTRUMENTS: dict[str, Callable[[], Instrument] | None] = {
    "off": None,
    "empty hooks": EmptyHooks,
    "collector": Collector,
    "counting": _counting,
    "metrics": _metrics,
    "tracing": _tracing,
}
"""Each configuration measured: a factory of the instrument installed (``None``: nothing)."""


async def _tell_each(ref: ActorRef[object], n: int) -> None:
    for _ in range(n):
        await ref.tell(PING)


async def _ask_each(ref: ActorRef[object], n: int) -> None:
    for _ in range(n):
        await ref.ask(PING)


def _one_actor(
    n: int,
    send_all: Callable[[ActorRef[object], int], Awaitable[None]],
    instrument: Callable[[], Instrument] | None,
) -> Sample:
    """Time ``send_all(ref, n)`` to one idle actor, with ``instrument`` installed first."""

    async def main() -> Sample:
        tally = Tally(n)
        async with trouper.open_runtime(mailbox_size=MAILBOX_SIZE) as runtime:
            if instrument is not None:
                runtime.instruments.add(instrument())
            ref = await runtime.spawn(Counter, tally)
            await wait_all_tasks_blocked()
            start = perf_counter()
            await send_all(ref, n)
            await tally.done.wait()
            value = rate(n, start)
        return Sample(value, tally.count)

    return trio.run(main)


def tell(n: int, instrument: str) -> Sample:
    """``await tell`` to one actor with the named configuration of ``INSTRUMENTS``."""
    return _one_actor(n, _tell_each, INSTRUMENTS[instrument])


def ask(n: int, instrument: str) -> Sample:
    """``ask`` in sequence with the named configuration of ``INSTRUMENTS``."""
    return _one_actor(n, _ask_each, INSTRUMENTS[instrument])


def rows(
    names: tuple[str, ...] = ("empty hooks", "collector", "counting", "metrics", "tracing"),
) -> list[Workload]:
    """The observe rows, for ``bench.workloads.WORKLOADS``: tell and ask per configuration."""
    from bench.workloads import Target, Workload

    made = []
    for kind, fn, size, unit in (
        ("tell", tell, TELL_SIZE, "msg/s"),
        ("ask", ask, ASK_SIZE, "ask/s"),
    ):
        for name in names:
            made.append(
                Workload(
                    f"{kind}_{name.replace(' ', '_')}",
                    f"{kind} with {name}",
                    size,
                    unit,
                    partial(fn, instrument="off"),
                    partial(fn, instrument=name),
                    Target(METRICS_TARGET) if (kind, name) == ("tell", "metrics") else None,
                    baseline="off",
                )
            )
    return made


def _local() -> Instrument:
    return Metrics(otel=False)


def _every_message() -> Instrument:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    return Metrics(provider, sample_every=1)


HOOKED: dict[str, Callable[[], Instrument]] = {
    "metrics (1 in 256 timed)": _metrics,
    "metrics without OpenTelemetry": _local,
    "metrics, every message timed": _every_message,
    "tracing": _tracing,
}
"""The instruments whose message hooks ``hook_costs`` times."""


def hook_costs(n: int = 100_000) -> dict[str, float]:
    """Nanoseconds per message of each instrument's three message hooks, called directly.

    Each message is ``message_sent``, then ``handler_started`` and
    ``handler_finished`` with the context it returned, as the engine calls
    them (without the engine's own dispatch, which ``EmptyHooks`` measures).
    """

    async def main() -> dict[str, float]:
        costs: dict[str, float] = {}
        async with trouper.open_runtime() as runtime:
            cell = cell_of(await runtime.spawn(Counter, Tally(0)))
            done = HandlerOutcome(None, 1)
            for label, factory in HOOKED.items():
                instrument = factory()
                sent, started, finished = (
                    instrument.message_sent,
                    instrument.handler_started,
                    instrument.handler_finished,
                )
                start = perf_counter()
                for _ in range(n):
                    context = sent(cell, PING, SendKind.TELL)
                    started(cell, PING, context)
                    finished(cell, PING, context, done)
                costs[label] = (perf_counter() - start) / n * 1e9
        return costs

    return trio.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the observe rows (and the hook costs); print them as ``python -m bench`` does."""
    parser = argparse.ArgumentParser(prog="python -m bench.observe_bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="rounds per side (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the sizes")
    args = parser.parse_args(argv)
    from bench.runner import meta, render, run

    results = run(
        rows(),
        scale=args.scale,
        repeat=args.repeat,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    info = meta(scale=args.scale, repeat=args.repeat)
    print(
        f"trouper {info['trouper']}, Python {info['python']}, {info['cpus']} CPUs, "
        f"scale {args.scale:g}, best of {args.repeat}; baseline: nothing installed\n"
    )
    render(results, sys.stdout)
    print("\nthe three message hooks called directly, ns per message:")
    for label, cost in hook_costs(max(1000, round(100_000 * args.scale))).items():
        print(f"  {label:<32} {cost:8,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
