"""The registry: each workload is a pair of functions (raw, trouper) and a target.

To add a workload, write ``fn(n) -> Sample`` in ``bench.raw`` and its twin in
``bench.trouper_side`` (same work, same completion test), then append a
``Workload`` to ``WORKLOADS``. The runner times both sides interleaved, keeps
the best of each and compares them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs

from bench import observe_bench, raw, routing_bench, topics_bench, trouper_side
from bench.common import Sample, in_fresh_process

__all__ = ["WORKLOADS", "Target", "Workload"]

RING_SIZE = 1000
FAN_OUT = 100


@attrs.frozen
class Target:
    """The ratio (trouper / baseline) a workload should reach, from the issue."""

    ratio: float
    """The bound."""
    at_least: bool = True
    """``True`` for rates (the ratio must be >= ``ratio``), ``False`` for costs (<=)."""

    def met(self, ratio: float) -> bool:
        """Tell whether ``ratio`` meets the target."""
        return ratio >= self.ratio if self.at_least else ratio <= self.ratio

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.ratio:.2f}"


@attrs.frozen
class Workload:
    """One workload: what it measures, its full size, its two sides, its target."""

    key: str
    """A short id, for ``--only`` and the JSON output."""
    name: str
    """What the table calls it."""
    size: int
    """``n`` at scale 1: messages, round trips, hops or actors."""
    unit: str
    """The unit of a sample's value."""
    raw: Callable[[int], Sample]
    """The raw Trio side: ``raw(n)``."""
    trouper: Callable[[int], Sample]
    """The trouper side: ``trouper(n)``."""
    target: Target | None
    """The issue's target for trouper / baseline; ``None`` for rows shown for information."""
    baseline: str = "raw"
    """Which raw baseline the raw side is."""
    higher_is_better: bool = True
    """Rates are best high (keep the max of the repetitions), costs low (keep the min)."""

    def scaled(self, scale: float) -> int:
        """The size at ``scale`` (at least 1)."""
        return max(1, round(self.size * scale))

    def best(self, samples: list[Sample]) -> float:
        """The best value among ``samples``."""
        values = [s.value for s in samples]
        return max(values) if self.higher_is_better else min(values)


def _sized(fn: Callable[[int, int], Sample], limit: int) -> Callable[[int], Sample]:
    """Adapt ``fn(n, size)`` to ``fn(n)``, with ``size = min(limit, n)`` actors."""

    def run(n: int) -> Sample:
        return fn(n, min(limit, n))

    return run


WORKLOADS: list[Workload] = [
    Workload(
        "tell",
        "tell: await tell, 1 -> 1",
        200_000,
        "msg/s",
        raw.tell,
        trouper_side.tell,
        Target(1.1),
    ),
    Workload(
        "tell_nowait",
        "tell: tell_nowait bursts, 1 -> 1",
        200_000,
        "msg/s",
        raw.tell_greedy,
        trouper_side.tell_nowait,
        Target(0.7),
        baseline="greedy raw",
    ),
    Workload(
        "ask",
        "ask: round trips in sequence",
        20_000,
        "ask/s",
        raw.ask,
        trouper_side.ask,
        Target(1.3),
    ),
    Workload(
        "spawn",
        "spawn all, then stop all",
        10_000,
        "actor/s",
        raw.spawn_stop,
        trouper_side.spawn_stop,
        Target(0.8),
    ),
    Workload(
        "stop",
        "stop all (idle), one by one",
        10_000,
        "actor/s",
        raw.stop_only,
        trouper_side.stop_only,
        Target(0.5),
    ),
    Workload(
        "ring",
        f"ring of {RING_SIZE:,}, token 100 laps",
        100 * RING_SIZE,
        "hop/s",
        _sized(raw.ring, RING_SIZE),
        _sized(trouper_side.ring, RING_SIZE),
        Target(1.0),
    ),
    Workload(
        "fan_out",
        f"fan-out, 1 -> {FAN_OUT} round-robin",
        20_000,
        "msg/s",
        _sized(raw.fan_out, FAN_OUT),
        _sized(trouper_side.fan_out, FAN_OUT),
        Target(1.0),
    ),
    Workload(
        "publish",
        f"publish, 1 -> {topics_bench.SUBSCRIBERS} via '{topics_bench.PATTERN}'",
        2_000,
        "msg/s",
        topics_bench.raw_publish,
        topics_bench.trouper_publish,
        None,  # the issue asks for the ratio, with no target
    ),
    Workload(
        "balancing",
        f"balancing pool of {routing_bench.POOL_SIZE} vs 1 actor, yielding handler",
        100_000,
        "msg/s",
        routing_bench.single_actor,
        routing_bench.balancing_pool,
        None,  # the ratio is the pool's gain over one actor; the issue sets no target
        baseline="1 actor",
    ),
    Workload(
        "memory",
        "idle actor memory (tracemalloc)",
        10_000,
        "B/actor",
        partial(raw.idle_memory, kind="traced"),
        partial(trouper_side.idle_memory, kind="traced"),
        Target(1.15, at_least=False),
        higher_is_better=False,
    ),
    Workload(
        "rss",
        "idle actor memory (RSS growth)",
        10_000,
        "B/actor",
        in_fresh_process(raw.idle_memory, kind="rss"),
        in_fresh_process(trouper_side.idle_memory, kind="rss"),
        None,
        higher_is_better=False,
    ),
]
"""Every workload, in the order the table shows them."""

# The tell and ask rows with metrics and with tracing installed, against none (issue 11).
WORKLOADS += observe_bench.rows(("metrics", "tracing"))
