"""Review: a pool started with a durable ``mailbox=`` of its own is refused, not silently volatile.

``ChildSpec("jobs", pool(W, 2, router=Balancing()), name="jobs",
mailbox=Durable())`` started: the durable mailbox became the pool actor's own,
which holds only its ``Resize`` and ``Members`` requests, while every job told
to the pool went to an in-memory shared mailbox and was lost with the process.
The start is refused, saying where ``mailbox=`` goes; the durable mailbox it
opened is closed again, so the pool can be started right under that name.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ChildSpec, StartFailed, Supervisor, handler
from trouper.durable import Durable, SqliteStore
from trouper.routing import Balancing, pool

REFUSAL = re.escape(
    "the mailbox of pool /sup/jobs is given to the spawn or ChildSpec that starts it, where it "
    "would hold only the pool's Resize and Members requests, not its members' messages: pass "
    "mailbox= to spawn_pool or pool(..., router=Balancing()) instead (its members then share it)"
)


@trouper.message("test.routing.review7.spec_mailbox.job")
@attrs.frozen
class Job:
    id: int


class Worker(Actor):
    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    @handler
    async def job(self, message: Job) -> None:
        await self.gate.wait()


async def test_a_durable_mailbox_for_the_pool_actor_itself_is_refused(tmp_path: Path) -> None:
    """The supervisor's start fails with the ``ValueError``; the right spec then starts."""
    gate = trio.Event()
    async with trouper.open_runtime(store=SqliteStore(tmp_path / "s.db")) as rt:
        wrong = ChildSpec(
            "jobs", pool(Worker, 2, gate, router=Balancing()), name="jobs", mailbox=Durable()
        )
        with pytest.raises(StartFailed) as caught:
            await rt.spawn(Supervisor, [wrong], name="sup")
        assert isinstance(caught.value.__cause__, ValueError)
        assert re.fullmatch(REFUSAL, str(caught.value.__cause__))
        right = ChildSpec(
            "jobs", pool(Worker, 2, gate, router=Balancing(), mailbox=Durable()), name="jobs"
        )
        await rt.spawn(Supervisor, [right], name="sup")
        jobs = rt.lookup("jobs")
        assert jobs is not None
        for n in range(3):
            await jobs.tell(Job(n))
        await trio.testing.wait_all_tasks_blocked()
        # Two are being handled, one waits: all three stored until acknowledged.
        [box] = await rt.store.mailbox_statistics()
        assert (box.name, box.depth) == ("jobs", 3)
        gate.set()
