"""Review 12: message classes made at run time are not kept for ever by the handler cache."""

from __future__ import annotations

import gc
import weakref

import trouper
from trouper import Actor, handler


class Event:
    """The base of message classes an application makes at run time (one per schema, say)."""


class Sink(Actor):
    """Takes every ``Event``, of whatever subclass."""

    @handler
    async def event(self, message: Event) -> int:
        return 1


class Fallback(Actor):
    """Takes everything in ``receive``."""

    async def receive(self, message: object) -> int:
        return 2


async def test_classes_made_at_run_time_are_let_go() -> None:
    """3000 classes, each handled once: the dispatch cache keeps at most 1024 of them."""
    made: list[weakref.ref[type]] = []
    async with trouper.open_runtime() as rt:
        sink = await rt.spawn(Sink)
        for n in range(3000):
            cls = type(f"Event{n}", (Event,), {})
            made.append(weakref.ref(cls))
            assert await sink.ask(cls()) == 1
        del cls
        gc.collect()
        assert sum(ref() is not None for ref in made) <= 1024
        assert await sink.ask(Event()) == 1  # the declared handler is still there


async def test_receive_still_takes_every_class_after_the_cache_starts_again() -> None:
    """Past the limit, the types resolved to ``receive`` are resolved again, not lost."""
    async with trouper.open_runtime() as rt:
        fallback = await rt.spawn(Fallback)
        for n in range(3000):
            assert await fallback.ask(type(f"Other{n}", (), {})()) == 2
        assert Fallback.handles(int)


def test_handler_for_lets_go_of_the_classes_it_resolved() -> None:
    """The class method resolves through the same cache: it keeps at most 1024 classes."""
    made: list[weakref.ref[type]] = []
    for n in range(3000):
        cls = type(f"Event{n}", (Event,), {})
        made.append(weakref.ref(cls))
        assert Sink.handler_for(cls) is Sink.event
    del cls
    gc.collect()
    assert sum(ref() is not None for ref in made) <= 1024
