"""Review: a supervisor whose children's supervision gives up during its first start says why.

Under ``OneForOne`` a child that fails while its ``Supervisor`` is still
starting the later specs is decided at once; when that gives up, the
supervisor's next ``start_child`` was refused ("is stopping") and the
supervisor's ``spawn`` raised ``StartFailed`` caused by that refusal, the
real failure (the intensity exceeded, and the child's error under it) lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

import trouper
from trouper import Actor, ChildSpec, Directive, OneForOne, Supervisor, handler
from trouper.errors import HandlerError, RestartIntensityExceeded, StartFailed
from trouper.runtime import ActorEvent, EventKind


class CrashesAtOnce(Actor):
    """Fails on the message its own ``on_start`` sends it."""

    async def on_start(self) -> None:
        self.ctx.self_ref.tell_nowait("boom")

    @handler
    async def boom(self, message: str) -> None:
        raise ValueError("crashed right after its start")


class NeverStarts(Actor):
    """Its ``on_start`` waits until its stop cuts it off."""

    async def on_start(self) -> None:
        await trio.sleep_forever()


async def test_a_give_up_during_a_first_start_is_the_cause_of_its_start_failed() -> None:
    """``StartFailed.__cause__`` is the give-up, whose cause is the child's error."""
    async with trouper.open_runtime() as rt:
        specs = [ChildSpec("a", CrashesAtOnce), ChildSpec("b", NeverStarts)]
        with pytest.raises(StartFailed) as raised:
            await rt.spawn(Supervisor, specs, strategy=OneForOne(max_restarts=0), name="sup")
        gave_up = raised.value.__cause__
        assert isinstance(gave_up, RestartIntensityExceeded)
        assert repr(gave_up.__cause__) == "ValueError('crashed right after its start')"
        assert rt.lookup("sup") is None


class StartsCrashingChildrenOnRestart(Actor):
    """Starts no child first; each later instance starts ``CrashesAtOnce``, then ``NeverStarts``."""

    starts = 0

    async def on_start(self) -> None:
        type(self).starts += 1
        if type(self).starts > 1:
            await self.ctx.spawn(CrashesAtOnce, name="crasher")
            await self.ctx.spawn(NeverStarts, name="stuck")


class GivesUpAtOnce(StartsCrashingChildrenOnRestart):
    """Its children's supervision gives up on the first failure."""

    supervisor_strategy = OneForOne(max_restarts=0)


@asynccontextmanager
async def open_runtime_stopping_give_ups(
    stops: list[ActorEvent],
) -> AsyncIterator[trouper.Runtime]:
    """A runtime whose root stops a child that gave up; ``stops`` gets its STOPPED events."""
    root = OneForOne(directives={RestartIntensityExceeded: Directive.STOP})
    async with trouper.open_runtime(root_strategy=root) as rt:
        rt.events.listen(stops.append, kinds=[EventKind.STOPPED])
        yield rt


def why_owner_stopped(stops: list[ActorEvent]) -> BaseException | None:
    """The reason of the one stop of "/owner" among ``stops``."""
    (owner,) = [event for event in stops if event.address.path == "/owner"]
    return owner.reason


async def test_a_give_up_during_a_restarts_on_start_is_what_the_parents_directives_see() -> None:
    """The failed restart is the give-up: a directive for ``RestartIntensityExceeded`` applies."""
    stops: list[ActorEvent] = []
    async with open_runtime_stopping_give_ups(stops) as rt:
        ref = await rt.spawn(GivesUpAtOnce, name="owner")
        await rt.restart(ref)
        await trio.sleep(10)
        assert rt.lookup("owner") is None
    assert isinstance(why_owner_stopped(stops), RestartIntensityExceeded)
    assert GivesUpAtOnce.starts == 2  # stopped by the directive, never restarted again


class Crashes(Actor):
    """Fails on every message."""

    @handler
    async def boom(self, message: str) -> str:
        raise ValueError("child crashed")


class AsksItsChild(Actor):
    """Has its child crash, then asks it: the give-up has stopped it by then."""

    supervisor_strategy = OneForOne(max_restarts=0)
    starts = 0

    async def on_start(self) -> None:
        type(self).starts += 1
        self.child = await self.ctx.spawn(Crashes, name="child")

    @handler
    async def work(self, message: str) -> str:
        await self.child.tell("crash")
        await trio.sleep(1)
        return str(await self.child.ask("are you there?"))


async def test_a_handler_failing_from_a_give_up_is_that_give_up_to_the_parents_directives() -> None:
    """The handler's ``ActorStopped`` follows from the give-up: the directive sees the give-up."""
    stops: list[ActorEvent] = []
    async with open_runtime_stopping_give_ups(stops) as rt:
        ref = await rt.spawn(AsksItsChild, name="owner")
        with pytest.raises(HandlerError):
            await ref.ask("work")
        await trio.sleep(10)
        assert rt.lookup("owner") is None
    assert isinstance(why_owner_stopped(stops), RestartIntensityExceeded)
    assert AsksItsChild.starts == 1  # stopped by the directive, never restarted
