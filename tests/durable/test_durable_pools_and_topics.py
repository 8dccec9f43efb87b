"""A durable balancing pool is a work queue with competing consumers; durable topic subscribers."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from durable_support import Charge, ChargeSink, Place, sqlite

import trouper
from trouper.durable import Delivery, Durable
from trouper.routing import Balancing, RoundRobin


class Worker(trouper.Actor):
    """Records (job, member, attempt); fails a job whose total is negative on its first delivery."""

    def __init__(self, done: list[tuple[str, str, int]]) -> None:
        self.done = done

    async def on_restart(self, cause: BaseException) -> None:
        await trio.sleep(10)  # a slow restart: the job goes to another member meanwhile

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        member = self.ctx.self_ref.address.path.rpartition("/")[2]
        await trio.sleep(0.1)
        self.done.append((message.order_id, member, delivery.attempt))
        if message.total < 0 and delivery.attempt == 1:
            raise ValueError("first try fails")


async def test_each_job_is_handled_by_exactly_one_member(tmp_path: Path) -> None:
    """Forty jobs over four members: each done once, and every member took some."""
    done: list[tuple[str, str, int]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(
            Worker, 4, done, router=Balancing(), name="jobs", mailbox=Durable()
        )
        for n in range(40):
            await jobs.tell(Charge(f"j{n}", 1))
        await trio.sleep(5)
        assert [box.name for box in await rt.store.mailbox_statistics()] == ["jobs"]
    assert sorted(job for job, _, _ in done) == sorted(f"j{n}" for n in range(40))
    assert {member for _, member, _ in done} == {f"member-{n}" for n in range(1, 5)}


async def test_a_job_whose_member_fails_is_redelivered_to_another(tmp_path: Path) -> None:
    """The member restarts slowly; the job's redelivery is taken by another member."""
    done: list[tuple[str, str, int]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(
            Worker, 2, done, router=Balancing(), name="jobs", mailbox=Durable(backoff=(1,))
        )
        await jobs.tell(Charge("bad", -1))
        await trio.sleep(5)
    (first, failed_on, _), (again, handled_by, attempt) = done
    assert (first, again, attempt) == ("bad", "bad", 2)
    assert failed_on != handled_by


async def test_queued_jobs_survive_into_the_next_runtime(tmp_path: Path) -> None:
    """Jobs left when the runtime stops are done by the next one's pool of the same name."""
    done: list[tuple[str, str, int]] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(
            Worker, 1, done, router=Balancing(), name="jobs", mailbox=Durable()
        )
        for n in range(5):
            await jobs.tell(Charge(f"j{n}", 1))
        await trio.sleep(0.15)
    first = len(done)
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn_pool(Worker, 2, done, router=Balancing(), name="jobs", mailbox=Durable())
        await trio.sleep(5)
    assert 0 < first < 5
    assert sorted(job for job, _, _ in done) == [f"j{n}" for n in range(5)]


async def test_only_a_balancing_pool_takes_a_mailbox() -> None:
    """Round-robin members have mailboxes of their own: mailbox= is refused for them."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(ValueError, match=r"^mailbox= is for Balancing\(\) pools"):
            await rt.spawn_pool(Worker, 2, [], router=RoundRobin(), mailbox=Durable())


async def test_a_durable_subscriber_receives_each_publish_durably(tmp_path: Path) -> None:
    """A publish to a durable subscriber returns once the message is stored in its mailbox."""
    got: list[object] = []
    gate = trio.Event()

    class Held(ChargeSink):
        @trouper.handler
        async def charge(self, message: Charge) -> None:
            await gate.wait()
            self.got.append(message)

    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        ref = await rt.spawn(Held, got, name="audit", mailbox=Durable())
        rt.topics.subscribe(ref, "charges.>")
        assert await rt.topics.publish("charges.eu", Charge("a", 1)) == 1
        assert await rt.topics.publish("charges.us", Charge("b", 2)) == 1
        assert [box.depth for box in await rt.store.mailbox_statistics()] == [2]
        gate.set()
        await trio.sleep(1)
    assert got == [Charge("a", 1), Charge("b", 2)]


class Publisher(trouper.Actor):
    """Publishes a Charge for each Place; fails after publishing when the total is 0."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @trouper.handler
    async def place(self, message: Place) -> None:
        await self.ctx.runtime.topics.publish("charges.eu", Charge(message.order_id, 1))
        await self.gate.wait()
        if message.total == 0:
            raise ValueError("zero")


async def test_a_publish_from_a_durable_handler_commits_with_its_ack(tmp_path: Path) -> None:
    """The subscriber's copy commits in the publisher's transaction: not before, not if failed."""
    got: list[object] = []
    gate = trio.Event()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        rt.topics.subscribe(await rt.spawn(ChargeSink, got, name="sub", mailbox=Durable()), ">")
        publisher = await rt.spawn(Publisher, gate, name="pub", mailbox=Durable(max_deliveries=1))
        await publisher.tell(Place("ok", 1))
        await publisher.tell(Place("bad", 0))
        await trio.sleep(0.5)  # on virtual time: once the store and every task are idle
        await rt.store.flush()
        held = {box.name: box.depth for box in await rt.store.mailbox_statistics()}
        gate.set()
        await trio.sleep(1)
    assert held == {"pub": 2, "sub": 0}
    assert got == [Charge("ok", 1)]
