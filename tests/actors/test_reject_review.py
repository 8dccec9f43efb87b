"""Review fix: a ``Reject`` of what is not an exception fails its handler, not the runtime."""

from __future__ import annotations

import pytest
import trio.testing

import trouper
from trouper import Actor, Reject, handler
from trouper.errors import HandlerError


def test_reject_refuses_what_is_not_an_exception_instance() -> None:
    """``Reject("text")`` and ``Reject(ValueError)`` raise TypeError saying what to pass."""
    with pytest.raises(
        TypeError,
        match=r"^Reject takes an exception instance, such as ValueError\('why'\), got 'no funds'$",
    ):
        Reject("no funds")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got <class 'ValueError'>$"):
        Reject(ValueError)  # type: ignore[arg-type]
    assert Reject(ValueError("no funds")).error.args == ("no funds",)


class Teller(Actor):
    """Rejects with a bare string: a mistake of its own."""

    def __init__(self, starts: list[None]) -> None:
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(None)

    @handler
    async def withdraw(self, message: int) -> int | Reject:
        if message < 0:
            return Reject("no funds")  # type: ignore[arg-type]
        return message


async def test_a_handler_rejecting_with_a_string_fails_the_actor_not_the_runtime() -> None:
    """The asker gets ``HandlerError`` (the TypeError is its cause); the actor restarts."""
    starts: list[None] = []
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Teller, starts)
        with pytest.raises(HandlerError) as caught:
            await ref.ask(-1)
        assert isinstance(caught.value.__cause__, TypeError)
        await ref.tell(-2)
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(5) == 5
        assert len(starts) == 3
