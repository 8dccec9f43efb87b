"""Pool guarantees under every schedule: explored over seeds, with members crashing at random."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import attrs
import pytest
import trio

from trouper import Actor, OneForOne, handler
from trouper.routing import Balancing, ConsistentHash, RoundRobin, Router
from trouper.testing import Crash, FaultPlan, InjectedCrash, Simulation, SimulationResult, explore

JOBS = 60


@attrs.frozen
class Job:
    id: int
    key: str


@attrs.frozen
class Outcome:
    handled: list[int]
    """Job ids in the order they were handled."""
    crashed: list[int]
    """Job ids lost to an injected crash (dead letters, reason "handler failed")."""
    keys: dict[str, set[str]]
    """For each key, the members that handled it."""


class Worker(Actor):
    """Takes a moment per job, then records it (id and which member handled the key)."""

    def __init__(self, handled: list[int], keys: dict[str, set[str]]) -> None:
        self.handled = handled
        self.keys = keys

    @handler
    async def job(self, message: Job) -> None:
        await trio.sleep(0.01)
        self.handled.append(message.id)
        member = self.ctx.self_ref.address.path.rpartition("/")[2]
        self.keys.setdefault(message.key, set()).add(member)


def key_of(message: object) -> object:
    assert isinstance(message, Job)
    return message.key


def crashed(sim: Simulation) -> list[int]:
    return [
        letter.message.id
        for letter in sim.runtime.dead_letters.recent
        if isinstance(letter.error, InjectedCrash) and isinstance(letter.message, Job)
    ]


def system(router: Router) -> Callable[[Simulation], Awaitable[Outcome]]:
    async def run(sim: Simulation) -> Outcome:
        handled: list[int] = []
        keys: dict[str, set[str]] = {}
        pool = await sim.runtime.spawn_pool(Worker, 4, handled, keys, router=router, name="pool")
        for i in range(JOBS):
            await pool.tell(Job(i, f"k{sim.random.randrange(8)}"))
        await trio.sleep(10)  # virtual: far more than the jobs need
        return Outcome(handled, crashed(sim), keys)

    return run


def exactly_once(result: SimulationResult[Outcome]) -> None:
    outcome = result.value
    assert outcome is not None
    counts = Counter(outcome.handled + outcome.crashed)
    assert sorted(counts) == list(range(JOBS)), "a job was lost"
    assert set(counts.values()) == {1}, "a job was handled twice"


CRASHES = FaultPlan(Crash("/pool/member-*", probability=0.05))
# Room for every injected crash: the pool must not give up (which would be correct, and lossy).
TOLERANT = OneForOne(max_restarts=JOBS)


@pytest.mark.parametrize(
    "router",
    [
        Balancing(strategy=TOLERANT),
        RoundRobin(strategy=TOLERANT),
        ConsistentHash(key_of, strategy=TOLERANT),
    ],
    ids=lambda r: type(r).__name__,
)
def test_each_job_is_handled_once_or_lost_to_its_crash_only(router: Router) -> None:
    """Over 25 schedules with random member crashes, no job is lost or doubled by the pool."""
    exploration = explore(system(router), seeds=range(25), check=exactly_once, faults=CRASHES)
    assert not exploration.failed, str(exploration)


def test_a_key_stays_with_one_member_under_every_schedule() -> None:
    """Consistent hash: whatever the schedule and the crashes, each key has one member."""

    def sticky(result: SimulationResult[Outcome]) -> None:
        exactly_once(result)
        assert result.value is not None
        assert all(len(members) == 1 for members in result.value.keys.values())

    exploration = explore(
        system(ConsistentHash(key_of, strategy=TOLERANT)),
        seeds=range(25),
        check=sticky,
        faults=CRASHES,
    )
    assert not exploration.failed, str(exploration)
