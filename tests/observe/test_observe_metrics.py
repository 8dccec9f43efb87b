"""Metrics: per-class tallies from the instrument's hooks, OpenTelemetry, Prometheus text."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from observe_actors import Echo, cell, crash
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData

import trouper
from trouper import Address
from trouper.observe import BUCKETS, Metrics, Observer
from trouper.routing import Balancing
from trouper.runtime import DeadLetter
from trouper.runtime.lowlevel import Cell, HandlerOutcome, Instrument, SendKind

MESSAGE_HOOKS = ("message_sent", "handler_started", "handler_finished")


def _otel() -> tuple[MeterProvider, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    return MeterProvider(metric_readers=[reader], shutdown_on_exit=False), reader


def _points(data: MetricsData | None, name: str) -> dict[str, object]:
    """The data points of one metric, by their single attribute's value."""
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    return {
                        str(next(iter((point.attributes or {}).values()))): point
                        for point in metric.data.data_points
                    }
    raise AssertionError(f"no metric {name}")


async def _handle(metrics: Metrics, actor: Cell, wait: float, duration: float) -> None:
    """Call the message hooks as the engine does for one message, on virtual time."""
    context = metrics.message_sent(actor, "x", SendKind.TELL)
    await trio.sleep(wait)
    metrics.handler_started(actor, "x", context)
    await trio.sleep(duration)
    metrics.handler_finished(actor, "x", context, HandlerOutcome(None, "x"))


def test_counting_metrics_implement_no_per_message_hook() -> None:
    """Without histograms no message hook is overridden: the engine calls none per message."""
    counting = Metrics(otel=False, histograms=False)
    timed = Metrics(otel=False)
    for hook in MESSAGE_HOOKS:
        assert getattr(type(counting), hook) is getattr(Instrument, hook)
        assert getattr(type(timed), hook) is not getattr(Instrument, hook)
    assert (counting.histograms, timed.histograms) == (False, True)
    assert isinstance(timed, Metrics)


async def test_counts_per_class_come_from_lifecycle_hooks_and_the_cells() -> None:
    """Handled is read off the cells; failures, restarts and dead letters from the hooks."""
    metrics = Metrics(otel=False, histograms=False)
    async with trouper.open_runtime() as rt:
        a, b = await rt.spawn(Echo, name="a"), await rt.spawn(Echo, name="b")
        for ref in (a, b):
            metrics.actor_started(cell(ref))
        for _ in range(3):
            await a.ask("x")
        await b.ask("y")
        metrics.actor_failed(cell(a), ValueError("x"))
        metrics.actor_restarted(cell(a), ValueError("x"))
        metrics.dead_letter(DeadLetter("m", Address("local", "/a"), "actor stopped"))
        snapshot = metrics.snapshot()
    echo = snapshot.classes["Echo"]
    assert (echo.handled, echo.failed, echo.restarts, echo.alive, echo.mailbox_depth) == (
        4,
        1,
        1,
        2,
        0,
    )
    assert snapshot.dead_letters == {"actor stopped": 1}


async def test_handled_keeps_what_stopped_actors_handled_and_counts_each_message_once() -> None:
    """A stop moves an actor's count into the class total; starting it again does not recount."""
    metrics = Metrics(otel=False, histograms=False)
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Echo, name="a")
        metrics.actor_started(cell(a))
        await a.ask("x")
        await a.ask("x")
        metrics.actor_started(cell(a))  # a restart reports a start too
        before_stop = metrics.snapshot().classes["Echo"].handled
        await rt.stop(a)
        metrics.actor_stopped(cell(a), None)
        after = metrics.snapshot().classes["Echo"]
    assert (before_stop, after.handled, after.alive) == (2, 2, 0)


async def test_installed_through_an_observer_it_follows_the_runtime() -> None:
    """An observer installs its metrics: the runtime's reports reach them."""
    metrics = Metrics(otel=False, histograms=False)
    async with trouper.open_runtime() as rt:
        early = await rt.spawn(Echo, name="early")
        with Observer(rt, metrics=metrics):
            late = await rt.spawn(Echo, name="late")
            await early.ask("x")
            await crash(late)
            await late.tell(3)
            await trio.testing.wait_all_tasks_blocked()
            echo = metrics.snapshot().classes["Echo"]
            letters = metrics.snapshot().dead_letters
    assert (echo.handled, echo.failed, echo.restarts, echo.alive) == (2, 1, 1, 2)
    assert letters == {"handler failed": 1, "unhandled message": 1}


async def test_mailbox_depth_counts_a_shared_mailbox_once() -> None:
    """Members of a balancing pool share one mailbox; its depth is counted once."""

    class Stuck(trouper.Actor):
        async def receive(self, message: object) -> None:
            await trio.sleep_forever()

    metrics = Metrics(otel=False, histograms=False)
    async with trouper.open_runtime() as rt:
        pool = await rt.spawn_pool(Stuck, 2, name="pool", router=Balancing())
        metrics.include(rt)
        for n in range(5):
            await pool.tell(n)
        await trio.testing.wait_all_tasks_blocked()
        stuck = metrics.snapshot().classes["Stuck"]
        await rt.stop(pool)
    assert (stuck.alive, stuck.mailbox_depth) == (2, 3)


async def test_histograms_time_mailbox_wait_and_handler_duration() -> None:
    """The message hooks put each wait and duration in its bucket, and add them up."""
    metrics = Metrics(otel=False, sample_every=1, clock=trio.current_time)
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        metrics.actor_started(a)
        await _handle(metrics, a, wait=0.003, duration=0.02)
        await _handle(metrics, a, wait=0.003, duration=2.0)
        echo = metrics.snapshot().classes["Echo"]
    waits, durations = echo.mailbox_wait, echo.handler_duration
    assert (waits.count, waits.counts[BUCKETS.index(0.005)]) == (2, 2)
    assert waits.sum == pytest.approx(0.006)
    assert durations.counts[BUCKETS.index(0.025)] == 1
    assert durations.counts[BUCKETS.index(2.5)] == 1
    assert durations.sum == pytest.approx(2.02)


async def test_one_message_in_sample_every_per_class_is_timed_the_first_included() -> None:
    """``sample_every=3``: of seven messages of one class the 1st, 4th and 7th are timed."""
    counting, metrics = (Metrics(otel=False, sample_every=3, clock=trio.current_time) for _ in "ab")
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        carried = [counting.message_sent(a, "x", SendKind.TELL) is not None for _ in range(7)]
        for _ in range(7):
            await _handle(metrics, a, wait=0.0, duration=0.001)
        echo = metrics.snapshot().classes["Echo"]
    assert carried == [True, False, False, True, False, False, True]
    assert (echo.mailbox_wait.count, echo.handler_duration.count) == (3, 3)


async def test_a_message_that_carries_no_context_is_not_timed() -> None:
    """A message sent before the install (or not sampled) carries nothing: no timing."""
    metrics = Metrics(otel=False, sample_every=1, clock=trio.current_time)
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        metrics.actor_started(a)
        metrics.handler_started(a, "x", None)
        metrics.handler_finished(a, "x", None, HandlerOutcome(None))
        echo = metrics.snapshot().classes["Echo"]
    assert (echo.mailbox_wait.count, echo.handler_duration.count) == (0, 0)


async def test_opentelemetry_reads_counters_and_gauges_per_class() -> None:
    """An OpenTelemetry reader collects the tallies through observable instruments."""
    provider, reader = _otel()
    metrics = Metrics(provider, histograms=False)
    async with trouper.open_runtime() as rt:
        a = await rt.spawn(Echo, name="a")
        metrics.actor_started(cell(a))
        await a.ask("x")
        metrics.actor_failed(cell(a), ValueError("x"))
        metrics.actor_restarted(cell(a), ValueError("x"))
        metrics.dead_letter(DeadLetter("m", Address("local", "/a"), "actor stopped"))
        data = reader.get_metrics_data()
    values = {
        name: _points(data, name)[key].value  # type: ignore[attr-defined]
        for name, key in [
            ("trouper.messages.handled", "Echo"),
            ("trouper.messages.failed", "Echo"),
            ("trouper.actor.restarts", "Echo"),
            ("trouper.actors.alive", "Echo"),
            ("trouper.mailbox.depth", "Echo"),
            ("trouper.dead_letters", "actor stopped"),
        ]
    }
    assert values == {
        "trouper.messages.handled": 1,
        "trouper.messages.failed": 1,
        "trouper.actor.restarts": 1,
        "trouper.actors.alive": 1,
        "trouper.mailbox.depth": 0,
        "trouper.dead_letters": 1,
    }


async def test_opentelemetry_histograms_record_the_timed_messages() -> None:
    """``sample_every=2``: every other message of a class is timed, locally and in OpenTelemetry."""
    provider, reader = _otel()
    metrics = Metrics(provider, sample_every=2, clock=trio.current_time)
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        for _ in range(6):
            await _handle(metrics, a, wait=0.001, duration=0.01)
        data = reader.get_metrics_data()
        local = metrics.snapshot().classes["Echo"].handler_duration.count
    duration = _points(data, "trouper.handler.duration")["Echo"]
    wait = _points(data, "trouper.mailbox.wait")["Echo"]
    assert (duration.count, wait.count, local) == (3, 3, 3)  # type: ignore[attr-defined]
    assert duration.sum == pytest.approx(0.03)  # type: ignore[attr-defined]


async def test_exposition_is_prometheus_text_with_cumulative_buckets() -> None:
    """``exposition()`` writes counters, gauges and cumulative histogram buckets per class."""
    metrics = Metrics(otel=False, sample_every=1, clock=trio.current_time)
    async with trouper.open_runtime() as rt:
        a = cell(await rt.spawn(Echo, name="a"))
        metrics.actor_started(a)
        await _handle(metrics, a, wait=0.0, duration=0.02)
        await _handle(metrics, a, wait=0.0, duration=3.0)
        text = metrics.exposition()
    lines = text.splitlines()
    assert "# TYPE trouper_messages_handled_total counter" in lines
    assert 'trouper_actors_alive{actor_class="Echo"} 1' in lines
    assert "# TYPE trouper_handler_duration_seconds histogram" in lines
    assert 'trouper_handler_duration_seconds_bucket{actor_class="Echo",le="0.01"} 0' in lines
    assert 'trouper_handler_duration_seconds_bucket{actor_class="Echo",le="0.025"} 1' in lines
    assert 'trouper_handler_duration_seconds_bucket{actor_class="Echo",le="5.0"} 2' in lines
    assert 'trouper_handler_duration_seconds_bucket{actor_class="Echo",le="+Inf"} 2' in lines
    assert 'trouper_handler_duration_seconds_count{actor_class="Echo"} 2' in lines
    assert text.endswith("\n")


def test_exposition_escapes_label_values() -> None:
    """Backslashes, quotes and newlines in a label value are escaped."""
    metrics = Metrics(otel=False, histograms=False)
    metrics.dead_letter(DeadLetter("m", Address("local", "/a"), 'say "hi"\\\nnow'))
    assert 'trouper_dead_letters_total{reason="say \\"hi\\"\\\\\\nnow"} 1' in (
        metrics.exposition().splitlines()
    )


@pytest.mark.parametrize("every", [0, 1.5])
def test_sample_every_must_be_a_positive_int(every: object) -> None:
    """``sample_every`` is checked and named in the error."""
    with pytest.raises(ValueError, match=rf"^sample_every must be an int >= 1, got {every}$"):
        Metrics(otel=False, sample_every=every)  # type: ignore[arg-type]
