"""send_later and every: exact virtual times, cancellation, ending with the actor."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, handler


@attrs.frozen
class Tick:
    label: str


@attrs.frozen
class Schedule:
    delay: float
    label: str
    repeat: bool = False


@attrs.frozen
class CancelAll:
    pass


@attrs.frozen
class Crash:
    pass


class Clocked(Actor):
    """Schedules ticks to itself and records when they arrive."""

    def __init__(self, seen: list[tuple[float, str]]) -> None:
        self.seen = seen
        self.timers: list[trouper.Timer] = []

    @handler
    async def schedule(self, message: Schedule) -> None:
        me = self.ctx.self_ref
        if message.repeat:
            self.timers.append(self.ctx.every(message.delay, me, Tick(message.label)))
        else:
            self.timers.append(self.ctx.send_later(message.delay, me, Tick(message.label)))

    @handler
    async def tick(self, message: Tick) -> None:
        self.seen.append((trio.current_time(), message.label))

    @handler
    async def cancel_all(self, message: CancelAll) -> list[bool]:
        for timer in self.timers:
            timer.cancel()
        return [timer.active for timer in self.timers]

    @handler
    async def crash(self, message: Crash) -> None:
        raise RuntimeError("crash")


async def test_send_later_delivers_at_the_exact_virtual_time() -> None:
    """A delayed message arrives exactly ``delay`` seconds later."""
    seen: list[tuple[float, str]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Clocked, seen)
        start = trio.current_time()
        await ref.tell(Schedule(2.5, "a"))
        await ref.tell(Schedule(1.0, "b"))
        await trio.sleep(10)
    assert [(t - start, label) for t, label in seen] == [(1.0, "b"), (2.5, "a")]


async def test_every_ticks_at_fixed_times_until_cancelled() -> None:
    """A repeating timer ticks at start + k * interval, and stops when cancelled."""
    seen: list[tuple[float, str]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Clocked, seen)
        start = trio.current_time()
        await ref.tell(Schedule(2, "tick", repeat=True))
        await trio.sleep(7)
        assert await ref.ask(CancelAll()) == [False]
        await trio.sleep(10)
    assert [t - start for t, _ in seen] == [2, 4, 6]


async def test_cancelled_send_later_never_delivers() -> None:
    """Cancelling before the delay passes means no message."""
    seen: list[tuple[float, str]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Clocked, seen)
        await ref.tell(Schedule(5, "never"))
        await trio.sleep(1)
        await ref.ask(CancelAll())
        await trio.sleep(10)
    assert seen == []


async def test_timers_end_when_the_actor_restarts_or_stops() -> None:
    """An instance's timers end with it: a restart or a stop cancels them."""
    seen: list[tuple[float, str]] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Clocked, seen)
        await ref.tell(Schedule(1, "before crash", repeat=True))
        await trio.sleep(1.5)
        await ref.tell(Crash())
        await trio.sleep(5)
        assert [label for _, label in seen] == ["before crash"]
        await ref.tell(Schedule(1, "before stop", repeat=True))
        await trio.sleep(1.5)
        await rt.stop(ref)
        await trio.sleep(5)
    assert [label for _, label in seen] == ["before crash", "before stop"]


async def test_bad_timer_arguments_are_refused() -> None:
    """Negative delays and non-positive intervals are ValueErrors saying so."""

    class Scheduler(Actor):
        @handler
        async def go(self, message: str) -> str:
            try:
                if message == "delay":
                    self.ctx.send_later(-1, self.ctx.self_ref, "x")
                else:
                    self.ctx.every(0, self.ctx.self_ref, "x")
            except ValueError as error:
                return str(error)
            return "accepted"

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Scheduler)
        assert await ref.ask("delay") == "delay must be finite seconds >= 0, got -1"
        assert await ref.ask("interval") == "interval must be finite seconds > 0, got 0"


async def test_timer_to_a_stopped_target_is_a_dead_letter() -> None:
    """A timer whose target has stopped delivers a dead letter, not an error."""
    seen: list[tuple[float, str]] = []

    class Sender(Actor):
        def __init__(self, target: trouper.ActorRef[object]) -> None:
            self.target = target

        async def on_start(self) -> None:
            self.ctx.send_later(1, self.target, Tick("late"))

    async with trouper.open_runtime() as rt:
        target = await rt.spawn(Clocked, seen)
        await rt.spawn(Sender, target)
        await rt.stop(target)
        await trio.sleep(2)
        assert [(d.message, d.reason) for d in rt.dead_letters.recent] == [
            (Tick("late"), "actor stopped")
        ]


async def test_timers_may_start_in_init() -> None:
    """A timer started in ``__init__`` runs like any other (the context exists there)."""
    seen: list[tuple[float, str]] = []

    class Early(Clocked):
        def __init__(self) -> None:
            super().__init__(seen)
            self.ctx.send_later(1, self.ctx.self_ref, Tick("from init"))

    async with trouper.open_runtime() as rt:
        start = trio.current_time()
        await rt.spawn(Early)
        await trio.sleep(2)
    assert [(t - start, label) for t, label in seen] == [(1, "from init")]
