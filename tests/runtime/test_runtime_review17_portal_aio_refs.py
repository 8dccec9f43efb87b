"""Review 17: the portal refuses an ``AioRef`` the same way in each call, pointing at ``.ref``.

``portal.tell(aio_ref, m)`` used to work (by calling the asyncio handle's own
``tell`` in a Trio task), ``portal.ask`` raised a ``RuntimeError`` about actors
and Trio code, ``portal.stop`` a ``TypeError`` about names: each now raises the
same ``TypeError`` in the calling thread, before anything crosses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import trouper
from trouper import Actor, handler
from trouper.aio import AioRef, AioRuntime, open_runtime

pytestmark = pytest.mark.real_clock


class Echo(Actor):
    """Answers a string with itself; counts what it was told."""

    def __init__(self) -> None:
        self.told = 0

    @handler
    async def echo(self, message: str) -> str:
        return message

    @handler
    async def count(self, message: int) -> int:
        self.told += message
        return self.told


def _calls(rt: AioRuntime, ref: AioRef[object]) -> dict[str, Callable[[], object]]:
    portal = rt.portal
    return {
        "tell": lambda: portal.tell(ref, 1),  # type: ignore[arg-type]
        "ask": lambda: portal.ask(ref, "x"),  # type: ignore[arg-type]
        "ask with a timeout": lambda: portal.ask(ref, "x", timeout=5),  # type: ignore[arg-type]
        "stop": lambda: portal.stop(ref),  # type: ignore[arg-type]
        "subscribe": lambda: portal.subscribe(ref, "news"),  # type: ignore[arg-type]
    }


def _outcomes(rt: AioRuntime, ref: AioRef[object]) -> dict[str, str]:
    outcomes = {}
    for what, call in _calls(rt, ref).items():
        try:
            call()
        except Exception as error:
            outcomes[what] = f"{type(error).__name__}: {error}"
        else:
            outcomes[what] = "accepted"
    return outcomes


def test_every_portal_call_refuses_an_aio_ref_alike() -> None:
    """tell, ask, stop, subscribe: one ``TypeError`` each, naming the call and ``aio_ref.ref``."""

    async def main() -> tuple[dict[str, str], object, object]:
        async with open_runtime() as rt:
            ref = await rt.spawn(Echo)
            outcomes = await asyncio.wait_for(asyncio.to_thread(_outcomes, rt, ref), 10)
            told = await ref.ask(0)
            # The ActorRef itself still goes through, as before.
            assert await asyncio.wait_for(asyncio.to_thread(rt.portal.tell, ref.ref, 2), 10)
            after: object = await asyncio.wait_for(ref.ask(0), 10)
            return outcomes, told, after

    outcomes, told, after = asyncio.run(main())
    hint = (
        "got <AioRef trouper://local/Echo-1>, a handle for asyncio code (trouper.aio): "
        "pass its ActorRef (aio_ref.ref)"
    )
    assert outcomes == {
        what: f"TypeError: portal.{call} takes an ActorRef, {hint}"
        for what, call in [
            ("tell", "tell"),
            ("ask", "ask"),
            ("ask with a timeout", "ask"),
            ("stop", "stop"),
            ("subscribe", "subscribe"),
        ]
    }
    assert (told, after) == (0, 2)  # nothing was told, and the actor was not stopped


async def test_runtime_stop_points_an_aio_ref_at_its_actor_ref() -> None:
    """The Trio side's ``stop`` names ``aio_ref.ref`` too (any object with an ActorRef ``.ref``)."""

    class Handle:
        def __init__(self, ref: trouper.ActorRef[object]) -> None:
            self.ref = ref

        def __repr__(self) -> str:
            return "<Handle>"

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        with pytest.raises(
            TypeError, match=r"^stop takes an ActorRef, got <Handle>, .*\(aio_ref\.ref\)$"
        ):
            await rt.stop(Handle(ref))  # type: ignore[arg-type]
        assert await ref.ask("still here") == "still here"
