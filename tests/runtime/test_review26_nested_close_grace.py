"""The close counts a nested actor's held handler's grace from its start, as a top-level one's."""

from __future__ import annotations

import logging

import attrs
import pytest
import trio
import trio.testing

import trouper
from trouper import Actor, ActorEvent, EventKind, handler


@attrs.frozen
class Hold:
    pass


class Holder(Actor):
    """Holds its handler for ever on ``Hold``."""

    @handler
    async def hold(self, message: Hold) -> None:
        await trio.sleep_forever()


class Parent(Actor):
    """Spawns ``count`` children (holders, or parents one level down) and holds them all."""

    def __init__(self, count: int, depth: int, prefix: str = "") -> None:
        self.count = count
        self.depth = depth
        self.prefix = prefix
        self.children: list[trouper.ActorRef[Hold]] = []

    async def on_start(self) -> None:
        for index in range(self.count):
            if self.depth > 1:
                name = f"{self.prefix}p{index}"
                child = await self.ctx.spawn(Parent, self.count, self.depth - 1, name, name=name)
            else:
                child = await self.ctx.spawn(Holder, name=f"{self.prefix}h{index}")
            self.children.append(child)

    @handler
    async def hold(self, message: Hold) -> None:
        for child in self.children:
            await child.tell(Hold())


@pytest.mark.parametrize("depth", [1, 2])
async def test_closing_with_held_nested_actors_takes_one_grace_in_reverse_order(
    depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Three held children under a top-level parent (or two levels down): one 5 s grace."""
    caplog.set_level(logging.WARNING)
    stopped: list[str] = []
    closing = 0.0
    async with trouper.open_runtime() as rt:

        def note(event: ActorEvent) -> None:
            stopped.append(event.address.path)

        rt.events.listen(note, kinds=[EventKind.STOPPED])
        parent = await rt.spawn(Parent, 3, depth, name="top")
        await parent.tell(Hold())
        await trio.testing.wait_all_tasks_blocked()
        closing = trio.current_time()
    assert trio.current_time() - closing == 5.0
    assert "did not stop" not in caplog.text
    # Children still stop last started first, each before its parent.
    if depth == 1:
        assert stopped == ["/top/h2", "/top/h1", "/top/h0", "/top"]
    else:
        expected = []
        for outer in ("p2", "p1", "p0"):
            expected += [f"/top/{outer}/{outer}h{inner}" for inner in (2, 1, 0)]
            expected.append(f"/top/{outer}")
        assert stopped == [*expected, "/top"]


async def test_a_stop_outside_the_close_keeps_each_childs_grace_from_its_turn() -> None:
    """``rt.stop`` of a parent with two held children: 5 s each, one after the other (OTP)."""
    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent, 2, 1, name="top")
        await parent.tell(Hold())
        await trio.testing.wait_all_tasks_blocked()
        began = trio.current_time()
        await rt.stop(parent)
        assert trio.current_time() - began == 10.0
