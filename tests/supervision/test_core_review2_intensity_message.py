"""Review fix: a give-up after normal exits says the child exited, not that it failed."""

from __future__ import annotations

import attrs
import pytest
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.runtime import EventKind
from trouper.supervision import ChildSpec


@attrs.frozen
class Quit:
    """Stop yourself (a normal exit)."""


@attrs.frozen
class Boom:
    """Raise."""


class Quitter(Actor):
    """Stops itself on ``Quit``; raises on ``Boom``."""

    @handler
    async def quit(self, message: Quit) -> None:
        self.ctx.stop()

    @handler
    async def boom(self, message: Boom) -> None:
        raise ValueError("boom")


async def _give_up_reasons(
    rt: trouper.Runtime, child: str, messages: list[object]
) -> list[BaseException | None]:
    reasons: list[BaseException | None] = []
    rt.events.listen(lambda event: reasons.append(event.reason), kinds=[EventKind.GAVE_UP])
    for message in messages:
        ref = rt.find(child)
        assert ref is not None
        await ref.tell(message)
        await trio.testing.wait_all_tasks_blocked()
    return reasons


async def test_a_give_up_after_normal_exits_says_the_child_exited_normally() -> None:
    """A permanent child that stops itself too often: the error says it exited normally."""
    async with trouper.open_runtime() as rt:
        spec = ChildSpec("quitter", Quitter, restart=trouper.Restart.PERMANENT)
        strategy = trouper.OneForOne(max_restarts=1, within=5.0)
        await rt.spawn(trouper.Supervisor, [spec], strategy=strategy, name="sup")
        reasons = await _give_up_reasons(rt, "/sup/quitter", [Quit(), Quit()])
        [error, *_] = reasons
        assert isinstance(error, trouper.RestartIntensityExceeded)
        assert error.exited_normally
        assert error.__cause__ is None
        assert str(error) == (
            f"trouper://{rt.node}/sup/quitter exited normally more than 1 restarts allow "
            "within 5.0 s; its supervisor gave up"
        )


async def test_a_give_up_after_a_failure_still_says_the_child_failed() -> None:
    """The same supervisor giving up on a failure says the child failed."""
    async with trouper.open_runtime() as rt:
        spec = ChildSpec("quitter", Quitter, restart=trouper.Restart.PERMANENT)
        strategy = trouper.OneForOne(max_restarts=1, within=5.0)
        await rt.spawn(trouper.Supervisor, [spec], strategy=strategy, name="sup")
        reasons = await _give_up_reasons(rt, "/sup/quitter", [Quit(), Boom()])
        [error, *_] = reasons
        assert isinstance(error, trouper.RestartIntensityExceeded)
        assert not error.exited_normally
        assert isinstance(error.__cause__, ValueError)
        assert str(error) == (
            f"trouper://{rt.node}/sup/quitter failed more than 1 restarts allow "
            "within 5.0 s; its supervisor gave up"
        )


async def test_the_root_giving_up_on_normal_exits_says_so() -> None:
    """The root's give-up on a permanent top-level actor that keeps stopping says it exited."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Quitter, name="quitter", restart=trouper.Restart.PERMANENT)
        reasons = await _give_up_reasons(rt, "/quitter", [Quit()] * 4)
        assert len(reasons) == 1
        error = reasons[0]
        assert isinstance(error, trouper.RestartIntensityExceeded)
        assert error.exited_normally
        assert "exited normally more than 3 restarts allow" in str(error)


@pytest.mark.parametrize("normal", [False, True])
def test_the_error_pickles_with_what_happened(normal: bool) -> None:
    """``exited_normally`` survives a pickle (it is one of ``args``)."""
    import pickle

    error = trouper.RestartIntensityExceeded(trouper.Address("n", "/a"), 3, 5.0, normal)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.exited_normally is normal
    assert str(copy) == str(error)
