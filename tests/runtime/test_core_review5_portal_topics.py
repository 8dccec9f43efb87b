"""Review: a layer's per-runtime object is made in the runtime's thread, never in a caller's.

``portal.publish`` read ``rt.topics`` in the calling thread, so a portal's first
publish made the topic registry there, racing the Trio thread that may make
it at the same moment; making a layer's object from another thread is now
refused, and the portal makes it in the runtime's thread.
"""

from __future__ import annotations

import attrs
import pytest
import trio

import trouper
from trouper import Actor, handler

pytestmark = pytest.mark.real_clock


@attrs.frozen
class Note:
    text: str


class Keeper(Actor):
    """Keeps the notes it is sent."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    @handler
    async def note(self, message: Note) -> None:
        self.notes.append(message.text)

    @handler
    async def read(self, message: int) -> list[str]:
        return self.notes


async def test_a_portals_first_publish_makes_the_registry_in_the_runtimes_thread() -> None:
    """The first topic call of a run, a portal's publish, works and reaches later subscribers."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Keeper)
        portal = rt.portal

        def work() -> tuple[int, int, object]:
            before = portal.publish("notes.a", Note("nobody yet"))
            portal.subscribe(ref, "notes.*")
            after = portal.publish("notes.b", Note("kept"))
            return before, after, portal.ask(ref, 0, timeout=5)

        assert await trio.to_thread.run_sync(work) == (0, 1, ["kept"])


async def test_a_layers_object_made_from_another_thread_is_refused() -> None:
    """rt.topics first used from another thread raises, naming the call, instead of racing."""
    async with trouper.open_runtime() as rt:

        def first_use() -> object:
            return rt.topics

        with pytest.raises(
            RuntimeError,
            match=r"^runtime 'local' makes its 'topics' object on first use, and that use was",
        ):
            await trio.to_thread.run_sync(first_use)
        assert rt.topics is rt.topics  # made here, in the runtime's thread, as usual
