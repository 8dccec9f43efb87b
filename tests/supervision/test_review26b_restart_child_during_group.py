"""RestartChild meeting a group restart: the child is never left ended and not started again."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorState, ChildSpec, OneForAll, RestForOne, Supervisor, handler
from trouper.runtime import RestartChild, WhichChildren


@attrs.frozen
class Boom:
    """Fail."""


class Member(Actor):
    """Stops in ``stop_for`` seconds; fails on ``Boom``."""

    def __init__(self, stop_for: float) -> None:
        self.stop_for = stop_for

    async def on_stop(self) -> None:
        await trio.sleep(self.stop_for)

    @handler
    async def boom(self, message: Boom) -> None:
        raise ValueError("boom")


@pytest.mark.parametrize("strategy", [OneForAll(), RestForOne()])
async def test_a_child_restarted_by_id_during_a_group_restart_runs_after_it(
    strategy: trouper.Strategy,
) -> None:
    """b is being stopped by RestartChild when a fails: b ends up running, started once more."""
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(
            Supervisor,
            [
                ChildSpec("a", Member, (0.0,)),
                ChildSpec("b", Member, (2.0,)),
                ChildSpec("c", Member, (3.0,)),
            ],
            strategy=strategy,
            name="sup",
        )
        a = rt.find("/sup/a")
        assert a is not None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sup.ask, RestartChild("b"))  # b's stop takes 2 s
            await trio.sleep(1)
            await a.tell(Boom())  # the group restart ends c (3 s), then b, then a
        await trio.sleep(30)
        children = await sup.ask(WhichChildren())
        assert [(c.id, c.state) for c in children] == [
            ("a", ActorState.RUNNING),
            ("b", ActorState.RUNNING),
            ("c", ActorState.RUNNING),
        ]
