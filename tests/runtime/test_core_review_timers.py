"""Review fix: a timer whose tell raises fails its actor, not the runtime."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, handler
from trouper.routing import ConsistentHash
from trouper.runtime import EventKind


@attrs.frozen
class Job:
    key: str


@attrs.frozen
class Tick:
    pass


class Worker(Actor):
    @handler
    async def job(self, message: Job) -> None:
        pass

    @handler
    async def tick(self, message: Tick) -> None:
        pass


def key_of(message: object) -> object:
    return message.key  # type: ignore[attr-defined]  # a Tick has none: the key raises


class Scheduler(Actor):
    """Sends ``Tick`` to ``target`` one second after each start."""

    def __init__(self, target: trouper.ActorRef[object], starts: list[float]) -> None:
        self.target = target
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(trio.current_time())
        self.ctx.send_later(1, self.target, Tick())


async def test_a_timer_whose_tell_raises_fails_its_actor_not_the_runtime() -> None:
    """A timer's tell that raises (a hash pool's key) fails the timer's actor, which restarts."""
    starts: list[float] = []
    failures: list[tuple[str, str]] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(
            lambda event: failures.append((event.address.path, repr(event.reason))),
            kinds=[EventKind.FAILED],
        )
        pool = await rt.spawn_pool(Worker, 2, router=ConsistentHash(key_of))
        start = trio.current_time()
        await rt.spawn(Scheduler, pool, starts, name="scheduler")
        await trio.sleep(2.5)
        assert [t - start for t in starts] == [0, 1, 2]
        error = "AttributeError(\"'Tick' object has no attribute 'key'\")"
        assert failures == [("/scheduler", error), ("/scheduler", error)]
        assert await pool.ask(Job("a")) is None
