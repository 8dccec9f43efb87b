"""Calls from other threads: refused clearly unless they go through the portal."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import attrs
import pytest
import trio

import trouper
from trouper import Actor, handler
from trouper.errors import RuntimeClosed

pytestmark = pytest.mark.real_clock

FOREIGN = r"was called from outside the Trio run that hosts runtime 'local'; .*rt\.portal"


@attrs.frozen
class Add:
    amount: int


@attrs.frozen
class Total:
    pass


class Counter(Actor):
    def __init__(self, start: int = 0, *, step: int = 1) -> None:
        self.total = start
        self.step = step

    @handler
    async def add(self, message: Add) -> None:
        self.total += message.amount * self.step

    @handler
    async def report(self, message: Total) -> int:
        return self.total


def _in_thread(fn: Callable[[], object]) -> BaseException | None:
    """Run ``fn`` in a new thread (no Trio there); return what it raised."""
    caught: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as error:
            caught.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    return caught[0] if caught else None


async def test_every_operation_from_a_foreign_thread_is_refused_before_queuing() -> None:
    """tell, tell_nowait, ask, spawn, stop, subscribe, unsubscribe, publish: RuntimeError."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Counter, name="c")
        subscription = rt.topics.subscribe(ref, "sums")
        calls: dict[str, Callable[[], object]] = {
            "tell": lambda: trio.run(ref.tell, Add(1)),
            "tell_nowait": lambda: ref.tell_nowait(Add(1)),
            "ask": lambda: trio.run(ref.ask, Total()),
            "spawn": lambda: trio.run(rt.spawn, Counter),
            "stop": lambda: trio.run(rt.stop, ref),
            "subscribe": lambda: rt.topics.subscribe(ref, "other"),
            "unsubscribe": lambda: rt.topics.unsubscribe(subscription),
            "publish": lambda: trio.run(rt.topics.publish, "sums", Add(1)),
        }
        for what, call in calls.items():
            error = await trio.to_thread.run_sync(_in_thread, call)
            assert isinstance(error, RuntimeError), (what, error)
            assert f"{what}() was called from outside" in str(error), (what, error)
        with trio.fail_after(5):
            assert await ref.ask(Total()) == 0  # nothing was queued, and the actor is not stuck
        assert len(rt.topics) == 1


async def test_the_portal_takes_spawn_options_and_factory_keywords() -> None:
    """portal.spawn passes keyword arguments to the factory and options to spawn."""
    async with trouper.open_runtime() as rt:
        portal = rt.portal

        def work() -> object:
            ref = portal.spawn(Counter, 10, step=3, name="stepped", mailbox_size=5)
            portal.tell(ref, Add(2))
            return portal.ask(ref, Total(), timeout=5)

        assert await trio.to_thread.run_sync(work) == 16
        assert rt.lookup("stepped") is not None


async def test_the_portal_publishes_and_subscribes() -> None:
    """portal.publish reaches subscribers and returns how many it reached."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Counter)
        portal = rt.portal

        def work() -> tuple[object, ...]:
            portal.subscribe(ref, "sums.*")
            reached = portal.publish("sums.a", Add(5))
            return reached, portal.ask(ref, Total(), timeout=5)

        assert await trio.to_thread.run_sync(work) == (1, 5)


async def test_the_portal_called_from_the_runtime_thread_raises_instead_of_hanging() -> None:
    """Called from the thread that hosts the runtime, the portal raises at once."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Counter)
        with pytest.raises(RuntimeError, match=r"thread that hosts the runtime"):
            rt.portal.tell(ref, Add(1))


def test_the_portal_called_from_an_asyncio_loop_hosting_the_runtime_raises() -> None:
    """Trio as a guest of asyncio: the portal, called from the loop's thread, raises."""

    async def trio_side(ready: asyncio.Future[tuple[trouper.Runtime, object]]) -> None:
        async with trouper.open_runtime() as rt:
            ref = await rt.spawn(Counter)
            loop.call_soon_threadsafe(ready.set_result, (rt, ref))
            await trio.sleep(0.5)

    async def main() -> BaseException | None:
        ready: asyncio.Future[tuple[trouper.Runtime, object]] = loop.create_future()
        done: asyncio.Future[object] = loop.create_future()
        trio.lowlevel.start_guest_run(
            trio_side,
            ready,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=lambda result: done.set_result(result),
        )
        rt, ref = await asyncio.wait_for(ready, 5)
        try:
            rt.portal.tell(ref, Add(1))  # type: ignore[arg-type]
        except RuntimeError as error:
            caught: BaseException | None = error
        else:
            caught = None
        await asyncio.wait_for(done, 5)
        return caught

    loop = asyncio.new_event_loop()
    try:
        caught = loop.run_until_complete(main())
    finally:
        loop.close()
    assert isinstance(caught, RuntimeError)
    assert "thread that hosts the runtime" in str(caught)


async def test_the_portal_after_aclose_raises_runtime_closed() -> None:
    """Once the runtime has stopped, portal calls raise RuntimeClosed (spawn included)."""
    async with trio.open_nursery() as nursery:
        rt = await trouper.start_runtime(nursery)
        portal = rt.portal
        await rt.aclose()

    def work() -> list[type[BaseException]]:
        raised: list[type[BaseException]] = []
        for call in (lambda: portal.spawn(Counter), lambda: portal.publish("a", 1)):
            try:
                call()
            except BaseException as error:
                raised.append(type(error))
        return raised

    assert await trio.to_thread.run_sync(work) == [RuntimeClosed, RuntimeClosed]
