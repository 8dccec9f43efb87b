"""Review fix: ``RestartChild`` of a temporary child is refused instead of orphaning it."""

from __future__ import annotations

import pytest
import trio.testing

import trouper
from trouper import Actor
from trouper.runtime import EventKind, RestartChild, WhichChildren
from trouper.supervision import ChildSpec


class Leaf(Actor):
    """A child that records its stops."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = stops

    async def on_stop(self) -> None:
        self.stops.append("stopped")


async def test_restarting_a_temporary_child_by_id_is_refused() -> None:
    """It would leave the list when stopped (its spec goes with it): the request is rejected."""
    stops: list[str] = []
    async with trouper.open_runtime() as rt:
        spec = ChildSpec("temp", Leaf, args=(stops,), restart=trouper.Restart.TEMPORARY)
        supervisor = await rt.spawn(trouper.Supervisor, [spec], name="sup")
        with pytest.raises(
            ValueError,
            match=r"^child 'temp' of /sup is TEMPORARY: it is never started again; "
            r"start a new one with StartChild$",
        ):
            await supervisor.ask(RestartChild("temp"))
        [child] = await supervisor.ask(WhichChildren())
        assert (child.id, child.state) == ("temp", trouper.ActorState.RUNNING)
        assert stops == []
        await rt.stop(supervisor)
        assert stops == ["stopped"]  # stopped with its supervisor, on_stop and all


class Spawner(trouper.Supervisor):
    """A supervisor that also has a child spawned without a spec."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Leaf, [], name="spawned")


async def test_restart_child_of_a_spawned_child_is_rejected_not_a_failure() -> None:
    """The supervisor answers the asker with the ``ValueError`` and goes on (no failure)."""
    failures: list[str] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(
            lambda event: failures.append(event.address.path), kinds=[EventKind.FAILED]
        )
        supervisor = await rt.spawn(Spawner, name="sup")
        with pytest.raises(ValueError, match=r"was spawned, not started from a ChildSpec"):
            await supervisor.ask(RestartChild("spawned"))
        await trio.testing.wait_all_tasks_blocked()
        assert failures == []
