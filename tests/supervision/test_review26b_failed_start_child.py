"""A child whose StartChild (or ctx.start_child) fails is not added: its id is free again (OTP)."""

from __future__ import annotations

import pytest

import trouper
from trouper import Actor, ActorState, ChildSpec, Restart, Supervisor
from trouper.runtime import RestartChild, StartChild, StopChild, WhichChildren


class Picky(Actor):
    """Fails its ``on_start`` while ``refuse`` is true."""

    refuse = True

    async def on_start(self) -> None:
        if Picky.refuse:
            raise RuntimeError("not now")


@pytest.mark.parametrize("restart", [Restart.PERMANENT, Restart.TRANSIENT])
async def test_a_failed_start_child_leaves_no_spec_behind(restart: Restart) -> None:
    """StartChild fails with StartFailed; the id is not listed, and a retry starts it."""
    Picky.refuse = True
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, [], name="sup")
        with pytest.raises(trouper.StartFailed):
            await sup.ask(StartChild(ChildSpec("picky", Picky, restart=restart, name="p")))
        assert await sup.ask(WhichChildren()) == []
        assert rt.find("/sup/picky") is None
        Picky.refuse = False
        ref = await sup.ask(StartChild(ChildSpec("picky", Picky, restart=restart, name="p")))
        assert rt.lookup("p") == ref
        [info] = await sup.ask(WhichChildren())
        assert (info.id, info.state, info.restart_count) == ("picky", ActorState.RUNNING, 0)


async def test_a_failed_restart_child_keeps_its_spec() -> None:
    """RestartChild of a stopped child that fails to start leaves it listed, stopped (OTP)."""
    Picky.refuse = False
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, [ChildSpec("picky", Picky)], name="sup")
        await sup.ask(StopChild("picky"))
        Picky.refuse = True
        with pytest.raises(trouper.StartFailed):
            await sup.ask(RestartChild("picky"))
        [info] = await sup.ask(WhichChildren())
        assert (info.id, info.state) == ("picky", ActorState.STOPPED)
        Picky.refuse = False
        await sup.ask(RestartChild("picky"))
        [info] = await sup.ask(WhichChildren())
        assert (info.id, info.state) == ("picky", ActorState.RUNNING)
