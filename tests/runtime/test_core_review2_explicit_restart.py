"""Review fix: ``rt.restart`` restarts a ``TEMPORARY`` actor instead of stopping it for good."""

from __future__ import annotations

import trouper
from trouper import Actor
from trouper.runtime import EventKind
from trouper.supervision import ChildSpec


class Leaf(Actor):
    """Records its starts and stops."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    async def on_start(self) -> None:
        self.seen.append("start")

    async def on_stop(self) -> None:
        self.seen.append("stop")


async def test_restarting_a_temporary_top_level_actor_starts_a_new_instance() -> None:
    """The kind says what follows the actor's own exits; a restart asked for is not one."""
    seen: list[str] = []
    restarted: list[str] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(
            lambda event: restarted.append(event.address.path), kinds=[EventKind.RESTARTED]
        )
        ref = await rt.spawn(Leaf, seen, name="temp", restart=trouper.Restart.TEMPORARY)
        await rt.restart(ref)
        assert seen == ["start", "stop", "start"]
        assert rt.lookup("temp") == ref
        assert restarted == ["/temp"]


async def test_restarting_a_temporary_child_of_a_supervisor_keeps_it_listed() -> None:
    """Under a ``Supervisor`` too: restarted, still listed, restart counted."""
    seen: list[str] = []
    async with trouper.open_runtime() as rt:
        spec = ChildSpec("temp", Leaf, args=(seen,), restart=trouper.Restart.TEMPORARY)
        supervisor = await rt.spawn(trouper.Supervisor, [spec], name="sup")
        child = rt.find("/sup/temp")
        assert child is not None
        await rt.restart(child)
        assert seen == ["start", "stop", "start"]
        [info] = await supervisor.ask(trouper.runtime.WhichChildren())
        assert (info.id, info.state, info.restart_count) == (
            "temp",
            trouper.ActorState.RUNNING,
            1,
        )
