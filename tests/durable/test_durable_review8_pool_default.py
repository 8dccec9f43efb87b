"""Review: a balancing pool of a class whose default mailbox is durable is a durable work queue.

``spawn_pool(..., router=Balancing())`` without ``mailbox=`` gave the members
an in-memory shared mailbox, ignoring the class's ``default_mailbox =
Durable()``: what the class says must survive a crash silently did not.
"""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from durable_support import Charge, sqlite

import trouper
from trouper.durable import Durable
from trouper.routing import Balancing


class Gate:
    """Holds every job until opened."""

    def __init__(self) -> None:
        self.open = trio.Event()


class DurableWorker(trouper.Actor):
    """Its class says its mailbox is durable; it waits for the gate, then records the job."""

    default_mailbox = Durable()

    def __init__(self, gate: Gate, done: list[str]) -> None:
        self.gate = gate
        self.done = done

    @trouper.handler
    async def charge(self, message: Charge) -> None:
        await self.gate.open.wait()
        self.done.append(message.order_id)


async def test_a_balancing_pool_takes_its_members_durable_default_as_its_shared_mailbox(
    tmp_path: Path,
) -> None:
    """Jobs told to the pool are stored under the pool's name, and survive into the next run."""
    done: list[str] = []
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        jobs = await rt.spawn_pool(DurableWorker, 2, Gate(), done, router=Balancing(), name="jobs")
        for n in range(5):
            await jobs.tell(Charge(f"j{n}", 1))
        await trio.testing.wait_all_tasks_blocked()
        [box] = await rt.store.mailbox_statistics()
        assert (box.name, box.depth) == ("jobs", 5)
    gate = Gate()
    gate.open.set()
    async with trouper.open_runtime(store=sqlite(tmp_path / "s.db")) as rt:
        await rt.spawn_pool(DurableWorker, 2, gate, done, router=Balancing(), name="jobs")
        await trio.sleep(1)
    assert sorted(done) == [f"j{n}" for n in range(5)]
