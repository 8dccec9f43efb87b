"""The same seed gives the same run, for a system that uses most of the engine and every fault.

Pools of each router, topics with overlapping patterns, watches and links, periodic timers,
a one-for-all supervisor, every kind of fault; and a durable pipeline killed three times at
instants the seed draws. Run twice in this process, and in a fresh one with another
``PYTHONHASHSEED``: the traces (and the durable store's contents) are identical; another seed
gives another trace. Run as a script, this file prints what a seed does.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import attrs
import trio

import trouper
from trouper.durable import Durable, ExponentialJitter
from trouper.routing import Balancing, Broadcast, ConsistentHash, RoundRobin
from trouper.testing import (
    Crash,
    Delay,
    Drop,
    Duplicate,
    DurableSimulation,
    Exponential,
    FaultPlan,
    Pause,
    Simulation,
    Uniform,
    run_durable_simulation,
    run_simulation,
)


@attrs.frozen
class Ping:
    number: int


@attrs.frozen
class Tick:
    pass


class Worker(trouper.Actor):
    """Answers pings after a short while; ignores ticks and notices."""

    @trouper.handler
    async def ping(self, message: Ping) -> int:
        await trio.sleep(0.01 * (message.number % 3))
        return message.number

    @trouper.handler
    async def tick(self, message: Tick) -> None:
        pass

    @trouper.handler
    async def terminated(self, message: trouper.Terminated) -> None:
        pass

    @trouper.handler
    async def exited(self, message: trouper.Exited) -> None:
        pass


class Watcher(Worker):
    """Watches and links to a target, and ticks every 0.3 s."""

    trap_exits = True

    def __init__(self, target: trouper.ActorRef[object]) -> None:
        self.target = target

    async def on_start(self) -> None:
        self.ctx.watch(self.target)
        self.ctx.link(self.target)
        self.ctx.every(0.3, self.ctx.self_ref, Tick())


class Parent(Worker):
    """Supervises three children and a broadcast pool, one for all."""

    supervisor_strategy = trouper.OneForAll()

    async def on_start(self) -> None:
        for number in range(3):
            await self.ctx.spawn(Worker, name=f"child{number}")
        await self.ctx.spawn_pool(Worker, 3, router=Broadcast(), name="all")


def _number(message: object) -> object:
    return getattr(message, "number", 0)


async def everything(sim: Simulation) -> None:
    """Drive pools, topics, watches, timers and a supervisor, then stop some of them."""
    rt = sim.runtime
    target = await rt.spawn(Worker, name="target")
    watchers = [await rt.spawn(Watcher, target, name=f"watcher{n}") for n in range(5)]
    parent = await rt.spawn(Parent, name="parent")
    balancing = await rt.spawn_pool(Worker, 3, router=Balancing(), name="balancing")
    round_robin = await rt.spawn_pool(Worker, 3, router=RoundRobin(), name="round-robin")
    hashed = await rt.spawn_pool(Worker, 3, router=ConsistentHash(key=_number), name="hashed")
    for number, watcher in enumerate(watchers):
        rt.topics.subscribe(watcher, "numbers.*" if number % 2 else "numbers.>")
    async with trio.open_nursery() as nursery:
        for number in range(12):
            nursery.start_soon(balancing.tell, Ping(number))
            nursery.start_soon(round_robin.tell, Ping(number))
            nursery.start_soon(hashed.tell, Ping(number))
            await rt.topics.publish(f"numbers.{number}", Ping(number))
    for number in range(6):
        with trio.move_on_after(0.5):
            await target.ask(Ping(number))
    await trio.sleep(1)
    await rt.stop(target)
    await rt.stop(parent)
    await trio.sleep(1)


EVERY_FAULT = FaultPlan(
    Crash("/watcher*", probability=0.05),
    Crash("/parent/child1", at_message=1),
    Drop(("<main>", "/round-robin/*"), 0.1),
    Delay(("*", "/watcher*"), 0.3, delay=Uniform(0.1, 0.5)),
    Delay(("<main>", "/target"), 0.3, delay=Exponential(0.2)),
    Duplicate(("*", "*"), 0.1),
    Pause("/balancing/*", at=0, duration=0.2),
)


@trouper.message("test.review26b.determinism.job")
@attrs.frozen
class Job:
    number: int


@trouper.message("test.review26b.determinism.done")
@attrs.frozen
class Done:
    number: int


class Jobber(trouper.Actor):
    """Takes 0.03 s per job; every seventh job fails; the others are passed on."""

    def __init__(self, sink: trouper.ActorRef[object]) -> None:
        self.sink = sink

    @trouper.handler
    async def job(self, message: Job) -> None:
        await trio.sleep(0.03)
        if message.number % 7 == 3:
            raise RuntimeError(f"job {message.number} fails")
        await self.sink.tell(Done(message.number))


class Sink(trouper.Actor):
    """Takes what is done."""

    @trouper.handler
    async def done(self, message: Done) -> None:
        pass


async def pipeline(sim: DurableSimulation) -> None:
    """A durable work queue feeding a durable sink; the first incarnation tells the jobs."""
    rt = sim.runtime
    sink = await rt.spawn(Sink, name="sink", mailbox=Durable(max_deliveries=3))
    backoff = ExponentialJitter(initial=0.1, maximum=1)
    jobs = await rt.spawn_pool(
        Jobber,
        3,
        sink,
        router=Balancing(),
        name="jobs",
        mailbox=Durable(max_deliveries=3, backoff=backoff),
    )
    if sim.incarnation == 0:
        for number in range(20):
            await jobs.tell(Job(number), msg_id=f"job-{number}")
    await trio.sleep(10)


DURABLE_FAULTS = FaultPlan(
    Crash("/jobs/*", probability=0.1),
    Delay(("<main>", "/jobs"), 0.3, delay=Uniform(0.1, 2)),
    Duplicate(("<main>", "/jobs"), 0.2),
    Pause("/sink", at=0.5, duration=0.4),
)


def three_crashes(rng: random.Random) -> list[float]:
    """Three kills at instants the seed draws."""
    return [rng.uniform(0.1, 2) for _ in range(3)]


def what_a_seed_does(seed: int) -> str:
    """Both systems' runs of ``seed``, as text: traces, errors, the store after the run."""
    plain = run_simulation(everything, seed=seed, faults=EVERY_FAULT)
    durable = run_durable_simulation(
        pipeline, seed=seed, crashes=three_crashes, faults=DURABLE_FAULTS
    )
    return "\n".join(
        [
            str(plain.trace),
            f"error: {plain.error!r}",
            str(durable.trace),
            f"error: {durable.error!r}",
            f"crashes: {durable.crashes!r}",
            f"mailboxes: {durable.mailboxes!r}",
            # A dead letter's traceback names this file by the path it was run from.
            f"dead letters: {[attrs.evolve(d, traceback='') for d in durable.dead_letters]!r}",
        ]
    )


def test_the_same_seed_gives_the_same_run_twice_in_one_process() -> None:
    """Everything: the same text; every kind of fault happened in it."""
    first = what_a_seed_does(5)
    assert first == what_a_seed_does(5)
    faults = "\n".join(line for line in first.splitlines() if " fault " in line)
    for fault in ("drop", "delay", "duplicate", "crash at message", "pause until", "killed"):
        assert fault in faults, fault
    assert "error: None" in first


def test_another_seed_gives_another_run() -> None:
    """The seed decides scheduling, faults and crash instants."""
    assert what_a_seed_does(5) != what_a_seed_does(6)


def test_the_same_seed_gives_the_same_run_in_a_process_with_another_hash_seed() -> None:
    """A fresh interpreter with another ``PYTHONHASHSEED`` does exactly the same."""
    hash_seed = "1" if os.environ.get("PYTHONHASHSEED") == "4242" else "4242"
    printed = subprocess.run(
        [sys.executable, __file__, "5"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONHASHSEED=hash_seed),
        timeout=120,
        check=True,
    ).stdout
    assert printed.rstrip("\n") == what_a_seed_does(5)


if __name__ == "__main__":
    print(what_a_seed_does(int(sys.argv[1])))
