"""Review fix: a permanent actor stopping itself too often makes its supervisor give up."""

from __future__ import annotations

import attrs
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.runtime import EventKind, WhichChildren
from trouper.supervision import ChildSpec


@attrs.frozen
class Quit:
    pass


class Quitter(Actor):
    """Stops itself (a normal exit) on ``Quit``."""

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()


async def _quit_four_times(ref: trouper.ActorRef[object]) -> None:
    for _ in range(4):  # the default intensity allows 3 restarts
        await ref.tell(Quit())
        await trio.testing.wait_all_tasks_blocked()


async def test_a_top_level_permanent_actor_exiting_too_often_is_stopped() -> None:
    """The root gives up on it (``GAVE_UP``, ``RestartIntensityExceeded``) and stops it."""
    gave_up: list[tuple[str, str]] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(
            lambda event: gave_up.append((event.address.path, type(event.reason).__name__)),
            kinds=[EventKind.GAVE_UP],
        )
        ref = await rt.spawn(Quitter, name="quitter", restart=trouper.Restart.PERMANENT)
        await _quit_four_times(ref)
        assert rt.lookup("quitter") is None
        assert gave_up == [("/", "RestartIntensityExceeded")]


async def test_a_supervisor_whose_permanent_child_exits_too_often_fails() -> None:
    """The supervisor gives up, stops its children and fails; its own supervisor restarts it."""
    gave_up: list[tuple[str, str]] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(
            lambda event: gave_up.append((event.address.path, type(event.reason).__name__)),
            kinds=[EventKind.GAVE_UP],
        )
        spec = ChildSpec("quitter", Quitter, restart=trouper.Restart.PERMANENT)
        supervisor = await rt.spawn(trouper.Supervisor, [spec], name="sup")
        child = rt.find("/sup/quitter")
        assert child is not None
        await _quit_four_times(child)
        assert gave_up == [("/sup", "RestartIntensityExceeded")]
        assert await supervisor.ask(WhichChildren()) != []
