"""A pool that its supervisor stops and starts again from its spec (``RestartChild``)."""

from __future__ import annotations

import attrs
import pytest
import trio.testing

from trouper import Actor, ActorStopped, ChildSpec, Runtime, Supervisor, handler
from trouper.routing import Balancing, Broadcast, ConsistentHash, RoundRobin, Router, members, pool
from trouper.runtime import DeadLetter, DeadLetterReason, RestartChild, StopChild


@attrs.frozen
class Job:
    id: int


class Worker(Actor):
    """Journals the job ids it handles and replies with the id."""

    def __init__(self, done: list[int]) -> None:
        self.done = done

    @handler
    async def job(self, message: Job) -> int:
        self.done.append(message.id)
        return message.id


ROUTERS = [RoundRobin(), Balancing(), ConsistentHash(lambda m: 0), Broadcast()]


@pytest.mark.parametrize("router", ROUTERS, ids=repr)
async def test_a_pool_started_again_from_its_spec_routes_again(
    runtime: Runtime, router: Router
) -> None:
    """After ``RestartChild`` the pool's one ref takes tells and asks as before."""
    done: list[int] = []
    supervisor = await runtime.spawn(
        Supervisor, [ChildSpec("jobs", pool(Worker, 2, done, router=router), name="jobs")]
    )
    jobs = runtime.lookup("jobs")
    assert jobs is not None
    assert await supervisor.ask(RestartChild("jobs")) == jobs
    assert len(await members(jobs)) == 2
    await jobs.ask(Job(1))
    await jobs.tell(Job(2))
    await trio.testing.wait_all_tasks_blocked()
    assert set(done) == {1, 2}
    assert runtime.dead_letters.count == 0


@pytest.mark.parametrize("router", ROUTERS, ids=repr)
async def test_a_pool_started_again_then_stopped_behaves_as_a_stopped_actor(
    runtime: Runtime, router: Router
) -> None:
    """Stopped once more, its tells are dead letters to the pool and its asks raise ActorStopped."""
    supervisor = await runtime.spawn(
        Supervisor, [ChildSpec("jobs", pool(Worker, 2, [], router=router), name="jobs")]
    )
    jobs = runtime.lookup("jobs")
    assert jobs is not None
    await supervisor.ask(RestartChild("jobs"))
    await supervisor.tell(StopChild("jobs"))
    await trio.testing.wait_all_tasks_blocked()
    letters: list[DeadLetter] = []
    runtime.dead_letters.listen(letters.append)
    assert not await jobs.tell(Job(3))
    assert letters == [DeadLetter(Job(3), jobs.address, DeadLetterReason.ACTOR_STOPPED)]
    with pytest.raises(ActorStopped) as caught:
        await jobs.ask(Job(4))
    assert caught.value.address == jobs.address
