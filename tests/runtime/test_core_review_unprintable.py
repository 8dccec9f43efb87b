"""Review fix: an error whose ``str()`` raises fails its actor, not the runtime."""

from __future__ import annotations

import pytest
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.errors import HandlerError


class Unprintable(Exception):
    """An exception whose ``__str__`` raises (it reads an attribute never set)."""

    detail: str

    def __str__(self) -> str:
        return self.detail


class Faulty(Actor):
    """Raises ``Unprintable`` for every message; counts its starts."""

    def __init__(self, starts: list[None]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(None)

    @handler
    async def fail(self, message: str) -> None:
        raise Unprintable


async def test_an_unprintable_error_reaches_the_asker_and_restarts_the_actor() -> None:
    """The asker gets ``HandlerError`` naming the type; the actor restarts; the runtime runs on."""
    starts: list[None] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Faulty, starts)
        with pytest.raises(HandlerError) as caught:
            await ref.ask("x")
        assert isinstance(caught.value.__cause__, Unprintable)
        assert "Unprintable(<str() raised AttributeError>)" in repr(caught.value.args)
        await trio.testing.wait_all_tasks_blocked()
        assert len(starts) == 2
