"""Review 17: messages told nowait still waiting for room when the block aborts are dead letters.

``tell_nowait`` from asyncio may accept a message that then finds no room
as it crosses (a pool bounded by the runtime's ``mailbox_size``, a mailbox
filled from Trio meanwhile): it waits in the endpoint's lane, "never lost".
Its caller was told it is on its way, so when the block is cancelled (an
abort) it must end as the messages in the mailboxes end, as dead letters
that dead-letter listeners see, not vanish with the lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars

import pytest
from aio_actors import Gates, Hold, Holder, Note, run

from trouper.aio import AioRef, open_runtime
from trouper.routing import RoundRobin
from trouper.runtime import DeadLetter, DeadLetterReason

pytestmark = pytest.mark.real_clock


def test_messages_told_nowait_waiting_in_a_lane_when_the_block_aborts_are_dead_letters() -> None:
    """A pool's full member holds three told messages back: the abort makes each a dead letter."""
    letters: list[DeadLetter] = []

    async def main() -> None:
        waiting = asyncio.Event()
        held: list[asyncio.Task[str]] = []

        async def owner() -> None:
            async with open_runtime() as rt:
                await rt.run_sync(rt.runtime.dead_letters.listen, letters.append)
                gates = await Gates.make(rt)
                pool = await rt.spawn_pool(
                    Holder, 1, gates.started, gates.gate, [], router=RoundRobin(), mailbox_size=1
                )
                held.append(asyncio.create_task(pool.ask(Hold())))
                await gates.wait_started(rt)
                await pool.tell(Note("fill"))  # the member's mailbox is full
                for tag in "abc":
                    pool.tell_nowait(Note(tag))  # accepted: on their way, behind it
                await rt.run_sync(lambda: None)  # they have crossed into the pool's lane
                waiting.set()
                await asyncio.Event().wait()

        block = asyncio.create_task(owner())
        await waiting.wait()
        block.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await block
        await asyncio.gather(*held, return_exceptions=True)  # (ActorStopped)

    run(main, within=5)
    notes = [(letter.message, letter.reason) for letter in letters]
    assert sorted(
        (message.tag, reason) for message, reason in notes if isinstance(message, Note)
    ) == [(tag, DeadLetterReason.ACTOR_STOPPED) for tag in ("a", "b", "c", "fill")]


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def test_those_dead_letters_are_posted_in_their_callers_context() -> None:
    """Behind another request's tell in the lane, each is posted in its own caller's context."""
    seen: list[tuple[str, str]] = []

    def note(letter: DeadLetter) -> None:
        if isinstance(letter.message, Note):
            seen.append((letter.message.tag, REQUEST_ID.get("-")))

    async def tell(pool: AioRef[object], tag: str) -> None:
        REQUEST_ID.set(tag)
        await pool.tell(Note(tag))

    async def main() -> None:
        waiting = asyncio.Event()
        calls: list[asyncio.Task[object]] = []

        async def owner() -> None:
            async with open_runtime() as rt:
                await rt.run_sync(rt.runtime.dead_letters.listen, note)
                gates = await Gates.make(rt)
                pool = await rt.spawn_pool(
                    Holder, 1, gates.started, gates.gate, [], router=RoundRobin(), mailbox_size=1
                )
                calls.append(asyncio.create_task(pool.ask(Hold())))
                await gates.wait_started(rt)
                await tell(pool, "fill")  # the member's mailbox is full
                calls.append(asyncio.create_task(tell(pool, "t")))  # starts the pool's lane
                await asyncio.sleep(0)
                REQUEST_ID.set("r")
                pool.tell_nowait(Note("r"))  # behind it, in the lane
                await rt.run_sync(lambda: None)  # it has crossed into the lane
                waiting.set()
                await asyncio.Event().wait()

        block = asyncio.create_task(owner())
        await waiting.wait()
        block.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await block
        await asyncio.gather(*calls, return_exceptions=True)  # (ActorStopped, RuntimeClosed)

    run(main, within=5)
    # (the mailbox's "fill" is the member's own, posted as it finalizes)
    assert [(tag, request) for tag, request in seen if tag == "r"] == [("r", "r")]
