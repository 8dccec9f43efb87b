"""Review: a child added while its supervisor restarts a group starts once the restart is done.

Under ``OneForAll`` and ``RestForOne`` a child depends on those started before it.
A child added with ``StartChild`` (or spawned by the supervising actor) while a
group restart was under way started at once, beside a group that was stopped
or half started. OTP's supervisor handles ``start_child`` only after the restart
it is carrying out: the new child starts after the group is back.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ChildSpec, OneForAll, RestForOne, Strategy, Supervisor, handler
from trouper.errors import AskCycle, HandlerError
from trouper.runtime import RestartChild, StartChild, StopChild, WhichChildren


class First(Actor):
    """Fails once, half a second after its first start."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start first at {trio.current_time():g}")
        if len(self.log) == 1:
            self.ctx.send_later(0.5, self.ctx.self_ref, "boom")

    @handler
    async def boom(self, message: str) -> None:
        raise ValueError(message)


class SlowToEnd(Actor):
    """Takes two seconds to end."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start slow at {trio.current_time():g}")

    async def on_stop(self) -> None:
        await trio.sleep(2)


class Late(Actor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start late at {trio.current_time():g}")


@pytest.mark.parametrize("strategy", [OneForAll(), RestForOne()])
async def test_a_child_added_during_a_group_restart_starts_after_the_group(
    strategy: Strategy,
) -> None:
    """``first`` fails at 0.5, ``slow`` ends until 2.5; ``late``, asked for at 1, starts at 2.5."""
    log: list[str] = []
    specs = [ChildSpec("first", First, (log,)), ChildSpec("slow", SlowToEnd, (log,))]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs, strategy=strategy)
        await trio.sleep(1)
        await sup.ask(StartChild(ChildSpec("late", Late, (log,))))
        assert trio.current_time() == 2.5
    assert log == [
        "start first at 0",
        "start slow at 0",
        "start first at 2.5",
        "start slow at 2.5",
        "start late at 2.5",
    ]


class AsksItsSupervisor(Actor):
    """Asked anything, waits until t=1, then asks its supervisor for its children."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start asker at {trio.current_time():g}")

    @handler
    async def ask_parent(self, message: str) -> object:
        await trio.sleep_until(1)
        supervisor = self.ctx.parent
        assert supervisor is not None
        return await supervisor.ask(WhichChildren())


async def test_a_member_asking_its_supervisor_that_waits_on_the_restart_gets_ask_cycle() -> None:
    """The supervisor waits on the restart, which waits on the member's handler: AskCycle."""
    log: list[str] = []
    specs = [ChildSpec("first", First, (log,)), ChildSpec("asker", AsksItsSupervisor, (log,))]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs, strategy=OneForAll(), name="sup")
        asker = rt.find("/sup/asker")
        assert asker is not None
        errors: list[BaseException | None] = []

        async def ask_asker() -> None:
            with pytest.raises(HandlerError) as raised:
                await asker.ask("go")
            errors.append(raised.value.__cause__)

        with trio.fail_after(100):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_asker)
                await trio.sleep(0.75)  # first fails at 0.5: the restart ends asker
                await sup.ask(StartChild(ChildSpec("late", Late, (log,))))
        assert trio.current_time() == 1
        assert [type(e) for e in errors] == [AskCycle]
    assert log == [
        "start first at 0",
        "start asker at 0",
        "start first at 1",
        "start asker at 1",
        "start late at 1",
    ]


class AddsOnRestart(Actor):
    """Its ``on_start``, when restarted, asks its supervisor to start ``late``."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(f"start adder at {trio.current_time():g}")
        if len(self.log) > 2:
            supervisor = self.ctx.parent
            assert supervisor is not None
            await supervisor.ask(StartChild(ChildSpec("late", Late, (self.log,))))


async def test_a_member_starting_a_sibling_from_on_start_during_the_restart_does_not_hang() -> None:
    """The restart waits on that on_start, which waits on the new child: it starts at once."""
    log: list[str] = []
    specs = [ChildSpec("first", First, (log,)), ChildSpec("adder", AddsOnRestart, (log,))]
    async with trouper.open_runtime() as rt:
        await rt.spawn(Supervisor, specs, strategy=OneForAll(), name="sup")
        await trio.sleep(1)
    assert log == [
        "start first at 0",
        "start adder at 0",
        "start first at 0.5",
        "start adder at 0.5",
        "start late at 0.5",
    ]


@pytest.mark.parametrize("strategy", [OneForAll(), RestForOne()])
async def test_a_stopped_child_restarted_during_a_group_restart_starts_after_the_group(
    strategy: Strategy,
) -> None:
    """``late`` was stopped; ``RestartChild`` asked at 1 starts it at 2.5, after the group."""
    log: list[str] = []
    specs = [
        ChildSpec("first", First, (log,)),
        ChildSpec("slow", SlowToEnd, (log,)),
        ChildSpec("late", Late, (log,)),
    ]
    async with trouper.open_runtime() as rt:
        sup = await rt.spawn(Supervisor, specs, strategy=strategy)
        await sup.ask(StopChild("late"))
        await trio.sleep(1)
        await sup.ask(RestartChild("late"))
        assert trio.current_time() == 2.5
    assert log == [
        "start first at 0",
        "start slow at 0",
        "start late at 0",
        "start first at 2.5",
        "start slow at 2.5",
        "start late at 2.5",
    ]
