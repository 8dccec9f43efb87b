"""An actor ended while its handler (or hook) waits in ``spawn`` is cut off, not failed."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorEvent, ActorRef, EventKind, handler
from trouper.runtime.lowlevel import Cell, Command, HandlerOutcome, Instrument


@attrs.frozen
class SpawnSlow:
    pass


@attrs.frozen
class Hang:
    pass


class NeverStarts(Actor):
    async def on_start(self) -> None:
        await trio.sleep_forever()


class Parent(Actor):
    """Asked ``SpawnSlow``, spawns a child that never starts; asked ``Hang``, hangs."""

    @handler
    async def spawn_slow(self, message: SpawnSlow) -> None:
        await self.ctx.spawn(NeverStarts)

    @handler
    async def hang(self, message: Hang) -> None:
        await trio.sleep_forever()


@attrs.frozen
class SpawnNested:
    pass


class NestedParent(Parent):
    """Asked ``SpawnNested``, spawns a ``StartsAChild``, whose own child never starts."""

    @handler
    async def spawn_nested(self, message: SpawnNested) -> None:
        await self.ctx.spawn(StartsAChild)


class StartsAChild(Actor):
    """Its ``on_start`` spawns a child that never starts."""

    async def on_start(self) -> None:
        await self.ctx.spawn(NeverStarts)


async def _ask_noting_the_error(
    ref: ActorRef[Any], message: object, raised: list[type[BaseException]]
) -> None:
    """Ask ``ref`` ``message``; add the type of what the ask raised to ``raised``."""
    try:
        await ref.ask(message)
    except Exception as error:
        raised.append(type(error))


async def _end(rt: trouper.Runtime, ref: ActorRef[Any], how: str) -> None:
    """``rt.stop`` or ``rt.restart`` the actor, as ``how`` says."""
    if how == "stop":
        await rt.stop(ref)
    else:
        await rt.restart(ref)


async def _outcome_of_ask(
    rt: trouper.Runtime, message: object, how: str, events: list[ActorEvent]
) -> type[BaseException]:
    """Ask a new ``Parent`` ``message``, end it at 1 s (``how``); return what the ask raised."""
    rt.events.listen(events.append, kinds=[EventKind.FAILED])
    parent = await rt.spawn(NestedParent, name="parent")
    raised: list[type[BaseException]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_ask_noting_the_error, parent, message, raised)
        await trio.sleep(1)
        await _end(rt, parent, how)
    return raised[0]


@pytest.mark.parametrize("how", ["stop", "restart"])
async def test_the_asker_of_an_actor_ended_in_a_spawn_gets_actor_stopped(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Ended while its handler spawns: the asker gets ActorStopped, and nothing failed."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        raised = await _outcome_of_ask(rt, SpawnSlow(), how, events)
    assert raised is trouper.ActorStopped
    assert events == []
    assert "failed" not in caplog.text


class Ends(Instrument):
    """Records how each handler ended (it makes the cell serve through its tracked loop)."""

    def __init__(self) -> None:
        self.ends: list[tuple[object, ...]] = []

    def handler_finished(
        self, actor: Cell, message: object, context: object, outcome: HandlerOutcome
    ) -> None:
        self.ends.append((type(message).__name__, type(outcome.error).__name__, outcome.cut_by))


@pytest.mark.parametrize(
    ("how", "cut_by"), [("stop", Command.STOP), ("restart", Command.TERMINATE)]
)
async def test_a_handler_ended_in_a_spawn_is_reported_cut_off_to_the_instruments(
    how: str, cut_by: Command
) -> None:
    """Watched handlers: the asker gets ActorStopped; the hook hears it cut off, not failed."""
    events: list[ActorEvent] = []
    ends = Ends()
    async with trouper.open_runtime() as rt:
        rt.instruments.add(ends)
        raised = await _outcome_of_ask(rt, SpawnSlow(), how, events)
    assert raised is trouper.ActorStopped
    assert events == []
    assert ends.ends == [("SpawnSlow", "ActorStopped", cut_by)]


async def test_an_actor_ended_while_its_grandchild_starts_fails_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Handler in spawn(child), child's on_start in spawn(grandchild): ActorStopped, no failure."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        raised = await _outcome_of_ask(rt, SpawnNested(), "stop", events)
    assert raised is trouper.ActorStopped
    assert events == []
    assert "failed" not in caplog.text


class SpawnsTopLevel(Actor):
    """Asked ``SpawnSlow``, spawns a top-level actor that never starts (``rt.spawn``)."""

    def __init__(self, rt: trouper.Runtime, journal: list[str]) -> None:
        self.rt = rt
        self.journal = journal

    @handler
    async def spawn_slow(self, message: SpawnSlow) -> None:
        await self.rt.spawn(NeverStarts)

    async def on_stop(self) -> None:
        self.journal.append(f"on_stop at {trio.current_time()}")


async def test_closing_while_a_handler_spawns_a_top_level_actor_fails_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The close stops the new actor first (last started); its spawn's refusal is no failure."""
    events: list[ActorEvent] = []
    raised: list[type[BaseException]] = []
    journal: list[str] = []
    async with trio.open_nursery() as nursery, trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        ref = await rt.spawn(SpawnsTopLevel, rt, journal)

        nursery.start_soon(_ask_noting_the_error, ref, SpawnSlow(), raised)
        await trio.testing.wait_all_tasks_blocked()
    assert raised == [trouper.ActorStopped]
    assert events == []
    assert "failed" not in caplog.text
    assert journal == ["on_stop at 5.0"]


@attrs.frozen
class SpawnLater:
    pass


class Keeper(Actor):
    """Has a child from the start (so no stop deadline of its own); asked ``SpawnLater``,
    spawns a child that never starts after 2 s."""

    async def on_start(self) -> None:
        await self.ctx.spawn(Parent)

    @handler
    async def spawn_later(self, message: SpawnLater) -> None:
        await trio.sleep(2)
        await self.ctx.spawn(NeverStarts)


@pytest.mark.parametrize("how", ["stop", "restart"])
async def test_a_spawn_begun_after_the_end_began_does_not_hold_it(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Ended at 1, its handler spawns at 2 a child that never starts: over at 7, not never."""
    events: list[ActorEvent] = []
    raised: list[type[BaseException]] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        keeper = await rt.spawn(Keeper)

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_ask_noting_the_error, keeper, SpawnLater(), raised)
                await trio.sleep(1)
                await _end(rt, keeper, how)
        assert trio.current_time() == 7.0
    assert raised == [trouper.ActorStopped]
    assert events == []
    assert "failed" not in caplog.text


async def test_the_same_as_when_its_handler_is_cut_off_elsewhere() -> None:
    """What an ask gets when the stop cuts a handler off in a sleep (the reference)."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        raised = await _outcome_of_ask(rt, Hang(), "stop", events)
    assert raised is trouper.ActorStopped
    assert events == []


async def test_closing_the_runtime_while_a_handler_spawns_fails_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The runtime's close ends an actor whose handler spawns: ActorStopped, no failure."""
    events: list[ActorEvent] = []
    raised: list[type[BaseException]] = []
    async with trio.open_nursery() as nursery, trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        parent = await rt.spawn(Parent)

        nursery.start_soon(_ask_noting_the_error, parent, SpawnSlow(), raised)
        await trio.testing.wait_all_tasks_blocked()
    assert raised == [trouper.ActorStopped]
    assert events == []
    assert "failed" not in caplog.text


@pytest.mark.parametrize("shutdown", [5.0, math.inf])
async def test_an_actor_stopped_while_its_on_start_spawns_is_stopped_not_failed(
    shutdown: float, caplog: pytest.LogCaptureFixture
) -> None:
    """Its on_start in a spawn when stopped: spawn raises ActorStopped, no failure reported."""
    events: list[ActorEvent] = []
    async with trouper.open_runtime() as rt:
        rt.events.listen(events.append, kinds=[EventKind.FAILED])
        raised: list[type[BaseException]] = []

        async def spawn() -> None:
            try:
                await rt.spawn(StartsAChild, name="starts", shutdown=shutdown)
            except Exception as error:
                raised.append(type(error))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(spawn)
            await trio.testing.wait_all_tasks_blocked()
            ref = rt.lookup("starts")
            assert ref is not None
            await rt.stop(ref)
    assert raised == [trouper.ActorStopped]
    assert events == []
    assert "failed" not in caplog.text
