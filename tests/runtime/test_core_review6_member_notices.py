"""A busy member sharing its pool's mailbox handles its own notice within its turn."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, ActorRef, Terminated, handler
from trouper.routing import Balancing


class Target(Actor):
    """Something to watch."""


@attrs.frozen
class Hold:
    """Keep the member busy until ``gate`` is set."""

    gate: trio.Event


class Member(Actor):
    """Watches ``target`` from its start; journals what it handles, in order."""

    def __init__(self, target: ActorRef[object], seen: list[object]) -> None:
        self.target = target
        self.seen = seen

    async def on_start(self) -> None:
        self.ctx.watch(self.target)

    @handler
    async def hold(self, message: Hold) -> None:
        self.seen.append("hold")
        await message.gate.wait()

    @handler
    async def number(self, message: int) -> None:
        self.seen.append(message)

    @handler
    async def terminated(self, message: Terminated) -> None:
        self.seen.append(message.ref.address.path)


async def test_a_notice_waits_at_most_for_the_rest_of_the_members_turn() -> None:
    """Arrived during a turn's first handler: ``throughput - 1`` shared messages come first."""
    seen: list[object] = []
    async with trouper.open_runtime() as rt:
        target = await rt.spawn(Target, name="target")
        pool = await rt.spawn_pool(Member, 1, target, seen, router=Balancing(), throughput=4)
        gate = trio.Event()
        await pool.tell(Hold(gate))
        await trio.testing.wait_all_tasks_blocked()
        for number in range(6):
            await pool.tell(number)
        await rt.stop(target)
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
    assert seen == ["hold", 0, 1, 2, "/target", 3, 4, 5]
