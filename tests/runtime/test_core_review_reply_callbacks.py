"""Review fix: a reply callback (``Cell.ask_soon``) that raises is logged, not fatal."""

from __future__ import annotations

import logging

import attrs
import outcome
import pytest
import trio.testing

import trouper
from trouper import Actor, handler
from trouper.runtime.lowlevel import Cell


@attrs.frozen
class Note:
    text: str


@attrs.frozen
class Hang:
    pass


class Worker(Actor):
    """Upper-cases notes; ``Hang`` never returns."""

    @handler
    async def note(self, message: Note) -> str:
        return message.text.upper()

    @handler
    async def hang(self, message: Hang) -> None:
        await trio.sleep_forever()


def closed_loop(result: outcome.Outcome[object]) -> None:
    """A callback whose receiver is gone (an asyncio loop closed meanwhile)."""
    raise RuntimeError("Event loop is closed")


async def test_a_raising_reply_callback_leaves_the_actor_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The handler's reply reaches a callback that raises: logged, and the actor goes on."""
    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        cell = ref.endpoint
        assert isinstance(cell, Cell)
        cell.ask_soon(Note("lost"), closed_loop)
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Note("next")) == "NEXT"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "a reply callback raised (the reply to a Note is lost)"
    ]


async def test_a_raising_reply_callback_does_not_stop_a_stop_halfway() -> None:
    """An ask queued at a stop fails through a raising callback: the stop still completes."""
    terminated: list[trouper.Terminated] = []

    class Watcher(Actor):
        def __init__(self, target: trouper.ActorRef[object]) -> None:
            self.target = target

        async def on_start(self) -> None:
            self.ctx.watch(self.target)

        @handler
        async def terminated(self, message: trouper.Terminated) -> None:
            terminated.append(message)

    async with trouper.open_runtime() as rt:
        ref = await rt.spawn(Worker, name="worker", shutdown=1)
        await rt.spawn(Watcher, ref)
        cell = ref.endpoint
        assert isinstance(cell, Cell)
        await ref.tell(Hang())
        cell.ask_soon(Note("queued"), closed_loop)
        await rt.stop(ref)
        await trio.testing.wait_all_tasks_blocked()
        assert rt.lookup("worker") is None
        assert [t.ref for t in terminated] == [ref]
