"""Restart from the view: a ``Supervisor``'s child its spec cannot restart is restarted as any."""

from __future__ import annotations

import attrs
import trio.testing
from observe_actors import Echo, Starting

import trouper
from trouper import ChildSpec, Request, Restart, Supervisor, handler
from trouper.observe import Observer


@attrs.frozen
class SpawnChild(Request[trouper.ActorRef[object]]):
    """Ask a ``SpawningSupervisor`` to spawn a child named ``spawned-<number>``."""

    number: int


class SpawningSupervisor(Supervisor):
    """A ``Supervisor`` that also spawns children of its own (no spec) on request."""

    @handler
    async def spawn_child(self, message: SpawnChild) -> trouper.ActorRef[object]:
        return await self.ctx.spawn(Starting, name=f"spawned-{message.number}")


async def test_restart_restarts_a_temporary_child_of_a_supervisor() -> None:
    """A running ``TEMPORARY`` spec child is restarted (``Runtime.restart``), not refused."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(
            Supervisor, [ChildSpec("t", Starting, name="t", restart=Restart.TEMPORARY)], name="sup"
        )
        ref = rt.lookup("t")
        with Observer(rt) as observer:
            await observer.restart("/sup/t")
            kinds = [item.kind for item in observer.feed().items]
        assert rt.lookup("t") == ref
        assert ref is not None
        assert await ref.ask("still here") == "still here"
    assert kinds == ["restarted", "started"]


async def test_restart_restarts_a_spawned_child_of_a_supervisor() -> None:
    """A child a ``Supervisor`` spawned (no spec) is restarted as ``Runtime.restart`` does."""
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(SpawningSupervisor, name="sup")
        ref = await sup.ask(SpawnChild(1))
        with Observer(rt) as observer:
            await observer.restart("/sup/spawned-1")
            kinds = [item.kind for item in observer.feed().items]
        assert rt.lookup("spawned-1") == ref
        assert await ref.ask("still here") == "still here"
    assert kinds == ["restarted", "started"]


async def test_restart_starts_a_stopped_spec_child_again() -> None:
    """A spec child stopped for good (kept listed) still starts again through its supervisor."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, [ChildSpec("a", Echo, name="a")], name="sup")
        ref = rt.lookup("a")
        assert ref is not None
        await rt.stop(ref)
        await trio.testing.wait_all_tasks_blocked()
        with Observer(rt) as observer:
            await observer.restart("/sup/a")
        assert await ref.ask("back") == "back"
