"""Review: the watches and links an instance made in ``__init__`` end with a spawn that fails.

When the spawn then failed, no task of the actor ever ran to release them:
the watched actor kept the failed one as a watcher for good (one more per
failed attempt), and told it ``Terminated`` when it stopped, a dead letter
for an actor that never existed; a linked actor was never told.
"""

from __future__ import annotations

import pytest
import trio.testing

import trouper
from trouper import Actor, Exited, handler


class Registry(Actor):
    pass


class WatchesThenFails(Actor):
    def __init__(self, registry: trouper.ActorRef[object]) -> None:
        self.ctx.watch(registry)
        raise ValueError("bad configuration")


class LinksThenFails(Actor):
    def __init__(self, partner: trouper.ActorRef[object]) -> None:
        self.ctx.link(partner)
        raise ValueError("bad configuration")


class Trapper(Actor):
    trap_exits = True

    def __init__(self, exits: list[Exited]) -> None:
        self.exits = exits

    @handler
    async def exited(self, message: Exited) -> None:
        self.exits.append(message)


async def test_a_failed_spawn_leaves_no_watch_behind() -> None:
    """Failed spawns that watched an actor leave it no watcher: its stop posts no dead letter."""
    async with trouper.open_runtime() as rt:
        registry = await rt.spawn(Registry, name="registry")
        for _ in range(3):
            with pytest.raises(ValueError, match=r"^bad configuration$"):
                await rt.spawn(WatchesThenFails, registry)
        await rt.stop(registry)
        assert rt.dead_letters.recent == ()


async def test_a_failed_spawn_tells_the_actor_it_linked_to() -> None:
    """A trapping partner receives Exited with the init's error, as for a failed on_start."""
    exits: list[Exited] = []
    async with trouper.open_runtime() as rt:
        partner = await rt.spawn(Trapper, exits)
        with pytest.raises(ValueError, match=r"^bad configuration$"):
            await rt.spawn(LinksThenFails, partner, name="ghost")
        await trio.testing.wait_all_tasks_blocked()
        assert [(e.ref.address.path, type(e.reason)) for e in exits] == [("/ghost", ValueError)]
