"""Refusals seen from asyncio: a refused send yields to the loop; a Trio task is refused clearly."""

from __future__ import annotations

import asyncio

import attrs
import pytest
import trio
from aio_actors import Account, Balance, Deposit, Hold, Holder, Note, run

from trouper import Actor, Request, handler
from trouper.aio import AioRef, AioRuntime, open_runtime
from trouper.errors import ActorStopped, HandlerError, UnhandledMessage

pytestmark = pytest.mark.real_clock

TRIO_TASK = r"^trouper\.aio calls belong to asyncio code: .*use the ActorRef"


def test_an_ask_refused_at_once_yields_to_the_loop() -> None:
    """An ask to a stopped actor lets the loop run first, so a retry loop can be timed out."""

    async def main() -> None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            await rt.stop(account)
            ran: list[str] = []
            asyncio.get_running_loop().call_soon(ran.append, "loop")
            with pytest.raises(ActorStopped):
                await account.ask(Balance())
            assert ran == ["loop"]

    run(main)


def test_an_unhandled_ask_yields_to_the_loop() -> None:
    """An ask no handler takes lets the loop run before ``UnhandledMessage`` is raised."""

    async def main() -> None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            ran: list[str] = []
            asyncio.get_running_loop().call_soon(ran.append, "loop")
            with pytest.raises(UnhandledMessage):
                await account.ask(Note("x"))
            assert ran == ["loop"]

    run(main)


def test_a_tell_to_a_stopped_actor_yields_to_the_loop() -> None:
    """A tell that became a dead letter lets the loop run, so a producer loop can be timed out."""

    async def main() -> None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            await rt.stop(account)
            ran: list[str] = []
            asyncio.get_running_loop().call_soon(ran.append, "loop")
            await account.tell(Deposit(1))
            assert ran == ["loop"]

    run(main)


@attrs.frozen
class Misuse(Request[object]):
    """Has ``Misuser`` call the asyncio face ``what`` from its handler (a Trio task)."""

    what: str
    rt: AioRuntime
    target: AioRef[object]


class Misuser(Actor):
    """Calls the bridge's asyncio API from a handler, which runs in a Trio task."""

    @handler
    async def misuse(self, message: Misuse) -> object:
        if message.what == "ask":
            return await message.target.ask(Note("from trio"))
        if message.what == "tell":
            await message.target.tell(Note("from trio"))
            return None
        if message.what == "spawn":
            return await message.rt.spawn(Account, 0, name="spawned-from-trio")
        return await message.rt.run_sync(int)


async def misuse(rt: AioRuntime, what: str, target: AioRef[object]) -> None:
    """Have a ``Misuser`` call ``what`` from its handler; check the handler met the refusal."""
    misuser = await rt.spawn(Misuser)
    with pytest.raises(HandlerError) as raised:
        await misuser.ask(Misuse(what, rt, target))
    cause = raised.value.__cause__
    assert type(cause) is RuntimeError
    with pytest.raises(RuntimeError, match=TRIO_TASK):
        raise cause


@pytest.mark.parametrize("what", ["spawn", "run_sync"])
def test_an_asyncio_call_from_a_trio_task_is_refused_before_it_crosses(what: str) -> None:
    """From an actor, ``spawn`` and ``run_sync`` raise a ``RuntimeError`` naming the ActorRef."""

    async def main() -> None:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            await misuse(rt, what, account)
            assert rt.lookup("spawned-from-trio") is None

    run(main)


def test_an_asyncio_ask_from_a_trio_task_is_refused_and_withdrawn() -> None:
    """From an actor, ``AioRef.ask`` raises ``RuntimeError`` and is withdrawn as if cancelled."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime() as rt:
            gates = [await rt.run_sync(trio.Event) for _ in range(2)]
            target = await rt.spawn(Holder, *gates, journal)
            await misuse(rt, "ask", target)
            assert await target.ask(Note("after")) == "after"
            assert journal[-1] == "after"

    run(main)


def test_an_asyncio_tell_from_a_trio_task_that_must_wait_is_refused_and_not_sent() -> None:
    """From an actor, ``AioRef.tell`` to a full mailbox raises ``RuntimeError`` and is not sent."""
    journal: list[str] = []

    async def main() -> None:
        async with open_runtime(mailbox_size=1) as rt:
            started, gate = await rt.run_sync(trio.Event), await rt.run_sync(trio.Event)
            target = await rt.spawn(Holder, started, gate, journal)
            held = asyncio.create_task(target.ask(Hold()))
            await rt.run(started.wait)
            await target.tell(Note("fill"))  # the mailbox is full
            await misuse(rt, "tell", target)
            await rt.run_sync(gate.set)
            assert await held == "held"
            assert await target.ask(Note("after")) == "after"
            assert journal == ["hold", "released", "fill", "after"]

    run(main)
