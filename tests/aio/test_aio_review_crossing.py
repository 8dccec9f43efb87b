"""The crossing under failure and backpressure: errors asyncio refuses, asks held in a lane."""

from __future__ import annotations

import asyncio

import attrs
import pytest
import trio
from aio_actors import Note, run, until

import trouper
from trouper import Actor, Request, handler
from trouper.aio import AioRef, AioRuntime, open_runtime

pytestmark = pytest.mark.real_clock


@attrs.frozen
class WaitFor(Request[str]):
    """Held by ``Waiter`` until ``event`` is set."""

    tag: str
    event: trio.Event


class Waiter(Actor):
    """Journals every message; ``WaitFor`` replies once its own event is set."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    @handler
    async def wait_for(self, message: WaitFor) -> str:
        self.journal.append(f"wait {message.tag}")
        await message.event.wait()
        return message.tag

    @handler
    async def note(self, message: Note) -> str:
        self.journal.append(message.tag)
        return message.tag


def test_a_tell_behind_an_ask_that_waited_for_room_waits_only_for_room() -> None:
    """An ask that had to wait for room does not hold later tells until its reply comes."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=1) as rt:
            first, second = await rt.run_sync(trio.Event), await rt.run_sync(trio.Event)
            waiter = await rt.spawn(Waiter, journal)
            held = asyncio.create_task(waiter.ask(WaitFor("a", first)))
            await until(lambda: journal == ["wait a"])
            await waiter.tell(Note("1"))  # the mailbox is full
            late = asyncio.create_task(waiter.ask(WaitFor("b", second)))  # waits for room
            await asyncio.sleep(0)
            await rt.run_sync(first.set)
            assert await held == "a"
            await until(lambda: journal == ["wait a", "1", "wait b"])
            # The mailbox is empty: the tell has room and must not wait for b's reply.
            async with asyncio.timeout(2):
                await waiter.tell(Note("2"))
            await rt.run_sync(second.set)
            assert await late == "b"
            assert await waiter.ask(Note("3")) == "3"

    run(main)
    assert journal == ["wait a", "1", "wait b", "2", "3"]


async def _let_in_behind(
    rt: AioRuntime, waiter: AioRef[object], journal: list[str], message: object
) -> tuple[asyncio.Task[object], trio.Event]:
    """Ask ``message`` of a ``Waiter`` (mailbox_size=1) so that it waits for room, then gets it.

    It waits behind "a" (being handled) and "c" (in the mailbox), and gets in as
    the handler takes "c", which then holds the handler: the ask is left in the
    mailbox, not yet taken, once this returns. Returns the ask and the event that frees "c".
    """
    first, second = await rt.run_sync(trio.Event), await rt.run_sync(trio.Event)
    held = asyncio.create_task(waiter.ask(WaitFor("a", first)))
    await until(lambda: journal == ["wait a"])
    await waiter.tell(WaitFor("c", second))  # the mailbox is full
    asked = asyncio.create_task(waiter.ask(message))
    await until(lambda: _depth(rt, waiter) == 1)
    await asyncio.sleep(0)  # the ask has crossed, and waits for room
    await rt.run_sync(first.set)
    assert await held == "a"
    await until(lambda: journal == ["wait a", "wait c"] and _depth(rt, waiter) == 1)
    assert not asked.done()
    return asked, second


def _depth(rt: AioRuntime, ref: AioRef[object]) -> int:
    info = rt.tree().find(ref.address.path)
    assert info is not None
    return info.mailbox_depth


def test_a_cancelled_ask_that_waited_for_room_is_withdrawn_if_not_yet_taken() -> None:
    """Cancelled once in the mailbox after waiting for room, the ask is never handled."""
    journal: list[str] = []

    async def main() -> int:
        async with open_runtime(mailbox_size=1) as rt:
            waiter = await rt.spawn(Waiter, journal)
            asked, release = await _let_in_behind(rt, waiter, journal, Note("b"))
            asked.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asked
            await rt.run_sync(release.set)
            assert await waiter.ask(Note("after")) == "after"
            return rt.runtime.dead_letters.count

    assert run(main) == 0
    assert journal == ["wait a", "wait c", "after"]


def test_an_ask_that_waited_for_room_ends_with_actor_stopped_when_its_actor_stops() -> None:
    """An ask let in after waiting for room fails with ``ActorStopped`` when the actor stops."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=1) as rt:
            waiter = await rt.spawn(Waiter, journal, shutdown=0.01)
            asked, _ = await _let_in_behind(rt, waiter, journal, Note("late"))
            await rt.stop(waiter)
            async with asyncio.timeout(2):
                with pytest.raises(trouper.ActorStopped):
                    await asked

    run(main)
    assert journal == ["wait a", "wait c"]


def test_a_stop_iteration_from_run_sync_reaches_the_caller_and_the_runtime_lives() -> None:
    """``StopIteration`` (which asyncio futures refuse) reaches the caller as on a native await."""

    async def main() -> str:
        async with open_runtime() as rt:
            with pytest.raises(RuntimeError, match=r"StopIteration") as raised:
                await rt.run_sync(next, iter(()))
            assert type(raised.value.__cause__) is StopIteration
            return await rt.run_sync(str, "alive")

    assert run(main) == "alive"
