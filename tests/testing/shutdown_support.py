"""Actors whose shutdown never ends, shared by the stuck-shutdown tests."""

from __future__ import annotations

import trio

from trouper import Actor, handler


class Stubborn(Actor):
    """Its ``on_stop`` never returns: it waits on nothing that will happen."""

    async def on_stop(self) -> None:
        await trio.Event().wait()

    @handler
    async def note(self, msg: str) -> None:
        pass


class Ticking(Actor):
    """Its ``on_stop`` never returns, but always has a deadline pending."""

    ticks = 0

    async def on_stop(self) -> None:
        while True:
            await trio.sleep(1)
            self.ticks += 1

    @handler
    async def note(self, msg: str) -> None:
        pass
