"""A strategy that cannot decide is refused when it is set, not at the first failure."""

from __future__ import annotations

import pytest

import trouper
from trouper import Actor, ChildSpec, OneForAll, StartFailed, Supervisor
from trouper.supervision import Strategy


class Kid(Actor):
    pass


class Careless(Actor):
    """Sets the strategy's class, not an instance of it (the parentheses forgotten)."""

    supervisor_strategy = OneForAll  # type: ignore[assignment]

    async def on_start(self) -> None:
        await self.ctx.spawn(Kid, name="kid")


async def test_a_supervisor_strategy_that_is_not_a_strategy_is_refused_at_the_first_child() -> None:
    """Its first child is refused: accepted, the child's first failure crashed the runtime."""
    async with trouper.open_runtime() as rt:
        with pytest.raises(StartFailed) as caught:
            await rt.spawn(Careless)
        assert isinstance(caught.value.__cause__, ValueError)
        assert "supervisor_strategy" in str(caught.value.__cause__)
        assert rt.lookup("kid") is None
        assert await rt.spawn(Kid) is not None  # the runtime goes on


def test_the_base_strategy_is_refused_when_built() -> None:
    """``Strategy`` names no children to restart: a supervisor given it failed at its first one."""
    with pytest.raises(ValueError, match="OneForOne, OneForAll or RestForOne"):
        Strategy()
    with pytest.raises(ValueError, match="OneForOne, OneForAll or RestForOne"):
        Supervisor([ChildSpec("kid", Kid)], strategy=Strategy(max_restarts=1))
