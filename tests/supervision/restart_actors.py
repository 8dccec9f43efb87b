"""Actors and helpers the supervision tests share."""

from __future__ import annotations

from trouper import Actor, ActorRef, Runtime, handler


class Trigger(Actor):
    """Fails at t=1, once for the whole run (``fired`` outlives its instances)."""

    def __init__(self, fired: list[float]) -> None:
        self.fired = fired

    async def on_start(self) -> None:
        if not self.fired:
            self.fired.append(1)
            self.ctx.send_later(1, self.ctx.self_ref, "boom")

    @handler
    async def boom(self, message: str) -> None:
        raise ValueError(message)


def lookup(rt: Runtime, name: str) -> ActorRef[object]:
    """The ref of the actor ``name``, which must be running."""
    ref = rt.lookup(name)
    assert ref is not None, name
    return ref
