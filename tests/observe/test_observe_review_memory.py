"""Review: what the observer keeps holds neither failed handlers' frames nor stopped actors."""

from __future__ import annotations

import contextlib
import gc
import logging
import weakref

import pytest
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.observe import Collector, Metrics, Observer


class Big:
    """Stands for a large object: one in a failed handler's locals, or an actor's argument."""


class Holder(Actor):
    """Fails on ``"boom"`` while a ``Big`` is in its frame's locals; ``held`` is a weakref to it."""

    held: weakref.ref[Big] | None = None

    def __init__(self, payload: object = None) -> None:
        self.payload = payload

    @handler
    async def work(self, message: str) -> str:
        big = Big()
        Holder.held = weakref.ref(big)
        if message == "boom":
            raise ValueError("boom")
        return message


@pytest.fixture(autouse=True)
def unlogged(caplog: pytest.LogCaptureFixture) -> None:
    """Failures are not logged: a captured record would keep the error (and its frames) alive."""
    caplog.set_level(logging.CRITICAL, logger="trouper")


async def fail_then_stop(rt: trouper.Runtime, ref: trouper.ActorRef[object]) -> None:
    """Make a ``Holder`` fail, stop it, and push its failure out of the engine's own keeping.

    The engine keeps the error too, for reasons of its own: in a restarted actor's task
    while it serves, in a stopped actor's ``ActorRef`` (the caller drops it), and in
    ``rt.dead_letters.recent`` (the latest 100, here pushed out by 100 more). Only the
    observer could still hold it after this.
    """
    with contextlib.suppress(trouper.HandlerError):
        await ref.ask("boom")
    await trio.testing.wait_all_tasks_blocked()
    await rt.stop(ref)
    gone = await rt.spawn(Holder)
    await rt.stop(gone)
    for _ in range(100):
        gone.tell_nowait("lost")
    assert all(letter.error is None for letter in rt.dead_letters.recent)


async def test_the_feed_keeps_a_failures_text_and_not_the_frames_of_the_handler() -> None:
    """A failed handler's locals are freed while its failure is still in the feed, as text."""
    async with trouper.open_runtime() as rt:
        with Observer(rt) as observer:
            ref = await rt.spawn(Holder, name="holder")
            await fail_then_stop(rt, ref)
            del ref
            gc.collect()
            assert Holder.held is not None
            assert Holder.held() is None
            kinds = ("failed", "restarted")
            reasons = [
                (i.kind, i.reason) for i in observer.feed(limit=500).items if i.kind in kinds
            ]
            assert reasons == [("failed", "ValueError: boom"), ("restarted", "ValueError: boom")]


async def test_a_failure_that_stops_an_actor_is_kept_as_text_in_the_feed() -> None:
    """A temporary actor's failure stops it; the stop's reason in the feed is text too."""
    async with trouper.open_runtime() as rt:
        with Observer(rt) as observer:
            ref = await rt.spawn(Holder, name="holder", restart=trouper.Restart.TEMPORARY)
            await fail_then_stop(rt, ref)
            del ref
            gc.collect()
            assert Holder.held is not None
            assert Holder.held() is None
            stops = [i.reason for i in observer.feed(limit=500).items if i.path == "/holder"][-1:]
            assert stops == ["ValueError: boom"]


async def test_metrics_forget_an_actor_that_stopped_while_they_were_not_installed() -> None:
    """Installed again, metrics drop actors whose stop they missed, keeping what they handled."""
    metrics = Metrics(otel=False, histograms=False)
    payloads = []
    async with trouper.open_runtime() as rt:
        for i in range(3):
            payload = Big()
            payloads.append(weakref.ref(payload))
            with Observer(rt, metrics=metrics):
                ref = await rt.spawn(Holder, payload, name=f"h{i}")
                await ref.ask("hello")
            await ref.ask("again")  # handled while the metrics are not installed
            await rt.stop(ref)
        await trio.testing.wait_all_tasks_blocked()  # the last one's task ends
        with Observer(rt, metrics=metrics):
            del payload, ref
            gc.collect()
            assert [payload() for payload in payloads] == [None, None, None]
            classes = metrics.snapshot().classes
    assert (classes["Holder"].handled, classes["Holder"].alive) == (6, 0)


async def test_an_actors_failures_are_forgotten_when_it_stops() -> None:
    """The failures kept for an actor's details go with it: a new actor of that name has none."""
    collector = Collector()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(collector)
        ref = await rt.spawn(Holder, name="holder")
        with contextlib.suppress(trouper.HandlerError):
            await ref.ask("boom")
        await trio.testing.wait_all_tasks_blocked()
        assert [f.error for f in collector.failures("/holder")] == ["ValueError: boom"]
        await rt.stop(ref)
        assert collector.failures("/holder") == ()
        await rt.spawn(Holder, name="holder")
        assert collector.failures("/holder") == ()
