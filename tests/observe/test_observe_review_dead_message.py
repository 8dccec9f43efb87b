"""Review: a dead letter's message is shown at a cost bounded by its shown text, once."""

from __future__ import annotations

import tracemalloc

import attrs
import trio.testing

import trouper
from trouper import Actor
from trouper.observe import Observer


class Counted:
    """Counts the calls of its ``repr``."""

    calls = 0

    def __repr__(self) -> str:
        Counted.calls += 1
        return "C"


@attrs.frozen
class Batch:
    """A message holding many items."""

    items: list[Counted]


@attrs.frozen
class Blob:
    """A message holding a large payload."""

    name: str
    payload: bytes


async def dead_letter_messages(message: object, reads: int = 1) -> list[str | None]:
    """``message`` sent to a stopped actor, its dead letter's shown message read ``reads`` times."""
    async with trouper.open_runtime() as rt:
        with Observer(rt) as observer:
            gone = await rt.spawn(Actor, name="gone")
            await rt.stop(gone)
            gone.tell_nowait(message)
            await trio.testing.wait_all_tasks_blocked()
            shown = []
            for _ in range(reads):
                shown += [i.message for i in observer.feed(0).items if i.kind == "dead_letter"]
    return shown


async def test_a_dead_letters_message_is_rendered_once_however_often_it_is_read() -> None:
    """Each read of the feed (each stream, each ``/api/feed``) rendered the message again."""
    Counted.calls = 0
    shown = await dead_letter_messages(Counted(), reads=3)
    assert (shown, Counted.calls) == (["C", "C", "C"], 1)


async def test_a_dead_letter_with_many_items_renders_only_what_is_shown() -> None:
    """The ``repr`` of each of a million items was made before the text was cut to 200."""
    Counted.calls = 0
    shown = await dead_letter_messages(Batch([Counted() for _ in range(1_000_000)]))
    calls = Counted.calls
    assert shown == [repr(Batch([Counted()] * 100))[:199] + "…"]
    assert calls < 100  # about 65 are shown


async def test_a_dead_letter_with_a_large_payload_renders_only_what_is_shown() -> None:
    """The ``repr`` of 20 MB of bytes (80 MB of text) was made before the text was cut to 200."""
    blob = Blob("big", bytes(20_000_000))
    async with trouper.open_runtime() as rt:
        with Observer(rt) as observer:
            gone = await rt.spawn(Actor, name="gone")
            await rt.stop(gone)
            gone.tell_nowait(blob)
            await trio.testing.wait_all_tasks_blocked()
            tracemalloc.start()
            try:
                items = observer.feed(0).items
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    [shown] = [item.message for item in items if item.kind == "dead_letter"]
    assert shown == repr(Blob("big", bytes(100)))[:199] + "…"
    assert peak < 100_000


async def test_a_deep_message_shows_its_start() -> None:
    """A structure nested deeper than ``repr`` can go shows its start, not a RecursionError."""
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert await dead_letter_messages(deep) == ["[" * 199 + "…"]


async def test_a_small_message_shows_as_its_repr() -> None:
    """Containers and attrs messages that fit show exactly as their ``repr``."""
    message = Blob("x", b"\x00'\"")
    parts: tuple[object, ...] = (message, [1, (2,)], {"a": {3}}, frozenset(), set(), (), "it's")
    assert await dead_letter_messages(parts) == [repr(parts)]
