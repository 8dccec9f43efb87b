"""Review fix: a name (or anything else) passed where a ref is due is refused, saying so."""

from __future__ import annotations

import pytest

import trouper
from trouper import Actor, handler


async def test_stop_and_restart_refuse_a_name() -> None:
    """``rt.stop("worker")`` raises TypeError pointing at ``lookup``, not an AttributeError."""
    async with trouper.open_runtime() as rt:
        await rt.spawn(Actor, name="worker")
        hint = r"\(rt\.lookup\(name\) finds one by name\)"
        with pytest.raises(TypeError, match=rf"^stop takes an ActorRef {hint}, got 'worker'$"):
            await rt.stop("worker")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^restart takes an ActorRef .*, got 'worker'$"):
            await rt.restart("worker")  # type: ignore[arg-type]
        assert rt.lookup("worker") is not None


class Binder(Actor):
    """Tries ``link``, ``unlink`` and ``unwatch`` with a name and replies with what they raised."""

    @handler
    async def bind(self, message: str) -> list[str]:
        outcomes = []
        for call in (self.ctx.link, self.ctx.unlink, self.ctx.unwatch):
            try:
                call(message)  # type: ignore[arg-type]
            except TypeError as error:
                outcomes.append(str(error))
            else:
                outcomes.append("accepted")
        return outcomes


async def test_link_unlink_and_unwatch_refuse_a_name() -> None:
    """Each raises TypeError naming the call, as ``watch`` already does."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Binder)
        assert await ref.ask("worker") == [
            f"{what} takes an ActorRef (rt.lookup(name) finds one by name), got 'worker'"
            for what in ("link", "unlink", "unwatch")
        ]
