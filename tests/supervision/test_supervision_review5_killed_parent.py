"""A child killed at its shutdown deadline can be started again from its spec, children and all."""

from __future__ import annotations

import attrs
import trio
import trio.testing

import trouper
from trouper import Actor, ChildSpec, Supervisor
from trouper.runtime import RestartChild, StopChild


@attrs.frozen
class Stuck:
    pass


class Leaf(Actor):
    pass


class Parent(Actor):
    """Spawns a child in ``on_start`` and notes how many children it then has; hangs on Stuck."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts

    async def on_start(self) -> None:
        await self.ctx.spawn(Leaf)
        self.counts.append(len(self.ctx.children()))

    @trouper.handler
    async def stuck(self, message: Stuck) -> None:
        await trio.sleep_forever()


async def test_a_child_cut_off_by_its_stop_deadline_restarts_with_new_children() -> None:
    """StopChild cuts the stuck handler at 1 s; RestartChild then starts it with a fresh child."""
    counts: list[int] = []
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, [ChildSpec("p", Parent, (counts,), shutdown=1)])
        parent = rt.find(f"{sup.address.path}/p")
        assert parent is not None
        await parent.tell(Stuck())
        await trio.testing.wait_all_tasks_blocked()
        await sup.tell(StopChild("p"))
        await trio.sleep(5)  # (virtual) past its 1 s shutdown: the handler was cancelled
        assert rt.find(f"{sup.address.path}/p") is None
        assert await sup.ask(RestartChild("p")) == parent
        assert counts == [1, 1]
