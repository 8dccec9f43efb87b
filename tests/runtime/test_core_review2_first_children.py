"""Review fix: two first children started at once with the same id are refused, not both kept."""

from __future__ import annotations

import attrs
import trio

import trouper
from trouper import Actor, handler
from trouper.supervision import ChildSpec


class Leaf(Actor):
    """A child."""


@attrs.frozen
class StartTwins:
    """Start two children with the same id at once; reply with what each start did."""


class Parent(Actor):
    """Has no children until ``StartTwins``."""

    @handler
    async def start_twins(self, message: StartTwins) -> list[str]:
        outcomes: list[str] = []

        async def start() -> None:
            try:
                await self.ctx.start_child(ChildSpec("twin", Leaf))
            except trouper.DuplicateChild:
                outcomes.append("duplicate")
            else:
                outcomes.append("started")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(start)
            nursery.start_soon(start)
        return sorted(outcomes)


async def test_the_same_id_started_twice_while_the_children_host_opens() -> None:
    """One start wins; the other raises ``DuplicateChild`` and no orphan actor runs."""
    async with trouper.open_runtime() as rt:
        parent = await rt.spawn(Parent, name="parent")
        assert await parent.ask(StartTwins()) == ["duplicate", "started"]
        info = rt.tree().find("/parent")
        assert info is not None
        assert [child.path for child in info.children] == ["/parent/twin"]
