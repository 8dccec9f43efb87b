"""Review 10: a pool whose spawn failed after its endpoint was made closes that endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import trio

import trouper
from trouper import Actor, handler
from trouper.durable import Durable, SqliteStore
from trouper.errors import NameTaken
from trouper.routing import Balancing


@trouper.message("test.routing.review10.job")
@attrs.frozen
class Job:
    order: str


class Worker(Actor):
    def __init__(self, got: list[str]) -> None:
        self.got = got

    @handler
    async def job(self, message: Job) -> None:
        self.got.append(message.order)


@attrs.frozen
class StartJobs:
    pass


class CancelAtFirstTask(trio.abc.Instrument):
    """Cancels ``scope`` as the first task is spawned once armed (the children's host)."""

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope = scope

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.scope.cancel()
        trio.lowlevel.remove_instrument(self)


class Owner(Actor):
    """Spawns a durable balancing pool as its first child, cancelled while its nursery opens."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    @handler
    async def start_jobs(self, message: StartJobs) -> bool:
        with trio.CancelScope() as scope:
            trio.lowlevel.add_instrument(CancelAtFirstTask(scope))
            await self.ctx.spawn_pool(
                Worker, 2, self.got, router=Balancing(), name="jobs", mailbox=Durable()
            )
        return scope.cancelled_caught


async def test_a_pool_spawn_cancelled_while_opening_leaves_its_durable_name_free(
    tmp_path: Path,
) -> None:
    """The cancelled pool's shared durable mailbox is closed: the name's pool can be spawned."""
    got: list[str] = []
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        owner = await rt.spawn(Owner, got)
        assert await owner.ask(StartJobs()) is True
        assert rt.lookup("jobs") is None
        jobs = await rt.spawn_pool(
            Worker, 2, got, router=Balancing(), name="jobs", mailbox=Durable()
        )
        await jobs.tell(Job("a"))
        await trio.testing.wait_all_tasks_blocked()
    assert got == ["a"]


class SpawnAtFirstTask(trio.abc.Instrument):
    """Starts ``fn`` in ``nursery`` as the first task is spawned once armed (a children host)."""

    def __init__(self, nursery: trio.Nursery, fn: Callable[[], Awaitable[object]]) -> None:
        self.nursery = nursery
        self.fn = fn

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        trio.lowlevel.remove_instrument(self)
        self.nursery.start_soon(self.fn)


@attrs.frozen
class StartTwice:
    pass


class Racer(Actor):
    """Spawns pool ``jobs`` as its first child, and again while the first one's nursery opens."""

    def __init__(self, got: list[str]) -> None:
        self.got = got
        self.second: BaseException | None = None

    async def spawn_again(self) -> None:
        try:
            await self.ctx.spawn_pool(Worker, 1, self.got, router=Balancing(), name="jobs")
        except NameTaken as error:
            self.second = error

    @handler
    async def start_twice(self, message: StartTwice) -> str:
        async with trio.open_nursery() as nursery:
            trio.lowlevel.add_instrument(SpawnAtFirstTask(nursery, self.spawn_again))
            await self.ctx.spawn_pool(Worker, 1, self.got, router=Balancing(), name="jobs")
        return repr(self.second)


async def test_the_pool_that_won_a_name_race_is_still_closed_when_it_stops() -> None:
    """The loser's failed spawn does not take the winner's endpoint out of the tracking."""
    got: list[str] = []
    async with trouper.open_runtime() as rt:
        racer = await rt.spawn(Racer, got)
        assert await racer.ask(StartTwice()) == "NameTaken('jobs')"
        jobs = rt.lookup("jobs")
        assert jobs is not None
        await rt.stop(jobs)
        assert await jobs.tell(Job("late")) is False
    assert got == []
