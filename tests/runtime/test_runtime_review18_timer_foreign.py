"""Review 18: a timer aimed at an actor of a runtime in another thread is refused when set.

``send_later`` and ``every`` took such a ref; when the timer fired, its tell
raised ``RuntimeError`` (a tell does not cross threads), which failed the
timer's actor, again after each restart, until its supervisor gave up. They
now raise ``ValueError`` as the timer is set, as ``stop`` and ``watch`` refuse
a ref of another runtime. A runtime beside it in the same Trio run is told as
any actor is, so a timer aimed there is kept and delivers.
"""

from __future__ import annotations

import queue
import threading

import pytest
import trio

import trouper
from trouper import Actor, ActorRef, handler
from trouper.runtime.lowlevel import cell_of


class Recorder(Actor):
    """Notes each string it gets with the time it got it."""

    def __init__(self, seen: list[tuple[float, str]]) -> None:
        self.seen = seen

    @handler
    async def note(self, message: str) -> None:
        self.seen.append((trio.current_time(), message))


class SetsTimers(Actor):
    """Sent a ref, sets ``send_later`` and ``every`` to it; replies with what each raised."""

    @handler
    async def set_timers(self, message: ActorRef) -> list[str]:  # type: ignore[type-arg]
        outcomes = []
        for set_timer in (self.ctx.send_later, self.ctx.every):
            try:
                set_timer(1, message, "tick")
            except ValueError as error:
                outcomes.append(str(error))
            else:
                outcomes.append("accepted")
        return outcomes


@pytest.mark.real_clock
async def test_timers_refuse_an_actor_of_a_runtime_in_another_thread() -> None:
    """``ValueError`` naming both runtimes; nothing is scheduled, the timer's actor runs on."""
    refs: queue.Queue[ActorRef[object]] = queue.Queue()
    release = threading.Event()

    async def other_side() -> None:
        async with trouper.open_runtime(node="b") as b:
            refs.put(await b.spawn(Recorder, []))
            await trio.to_thread.run_sync(release.wait, 10)

    thread = threading.Thread(target=trio.run, args=(other_side,))
    thread.start()
    try:
        ref = await trio.to_thread.run_sync(refs.get, True, 10)
        async with trouper.open_runtime(node="a") as a:
            setter = await a.spawn(SetsTimers, name="setter")
            outcomes = await setter.ask(ref)
            assert outcomes == [
                f"{what} takes a ref to an actor that runtime 'a' can tell; {ref!r} belongs "
                "to another runtime (node 'b') in another thread, where the timer's tell "
                f"could not reach it: {what} it from that runtime"
                for what in ("send_later", "every")
            ]
            assert cell_of(setter).timers == set()
            info = a.tree().find("/setter")
            assert info is not None
            assert info.restart_count == 0
    finally:
        release.set()
        await trio.to_thread.run_sync(thread.join, 10)
    assert not thread.is_alive()


async def test_timers_deliver_to_an_actor_of_another_runtime_in_the_same_run() -> None:
    """Beside it in one Trio run the tell reaches it: ``send_later`` and ``every`` deliver."""
    seen: list[tuple[float, str]] = []
    async with trouper.open_runtime(node="a") as a, trouper.open_runtime(node="b") as b:
        recorder = await b.spawn(Recorder, seen)
        setter = await a.spawn(SetsTimers)
        start = trio.current_time()
        assert await setter.ask(recorder) == ["accepted", "accepted"]
        await trio.sleep(2.5)
        assert [(when - start, what) for when, what in seen] == [
            (1.0, "tick"),
            (1.0, "tick"),
            (2.0, "tick"),
        ]
