"""Sends from asyncio that go straight into the engine between two Trio ticks (the direct route)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import pytest
import trio
from aio_actors import Account, Balance, Deposit, Gates, Hold, Holder, Note, run, until

import trouper
from trouper.aio import AioRef, AioRuntime, open_runtime
from trouper.durable import Durable, SqliteStore

pytestmark = pytest.mark.real_clock

ASLEEP = 3600.0
"""An I/O wait at least this long: Trio sleeps in its I/O thread with nothing due."""


class Waits(trio.abc.Instrument):
    """Records the timeout of each of Trio's I/O waits (how long it was allowed to sleep)."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def before_io_wait(self, timeout: float) -> None:
        self.timeouts.append(timeout)


class Signal(trouper.Actor):
    """Calls ``seen(tag)`` for each ``Note`` (on the loop's thread: it may set an asyncio event)."""

    def __init__(self, seen: Callable[[str], None]) -> None:
        self.seen = seen

    @trouper.handler
    async def note(self, message: Note) -> str:
        self.seen(message.tag)
        return message.tag


async def _asleep(rt: AioRuntime) -> Waits:
    """Return once Trio sleeps in its I/O wait with no deadline (its linger over, nothing to do)."""
    waits = Waits()
    await rt.run_sync(trio.lowlevel.add_instrument, waits)
    await until(lambda: bool(waits.timeouts) and waits.timeouts[-1] >= ASLEEP)
    return waits


def _tell_nowait(ref: AioRef[object], message: Note) -> Awaitable[object]:
    ref.tell_nowait(message)
    return asyncio.sleep(0)


SENDS: dict[str, Callable[[AioRef[object], Note], Awaitable[object]]] = {
    "tell_nowait": _tell_nowait,
    "tell": lambda ref, message: ref.tell(message),
    "ask": lambda ref, message: ref.ask(message),
}


@pytest.mark.parametrize("send", SENDS)
def test_a_send_wakes_trio_asleep_in_its_io_wait(send: str) -> None:
    """Sent while Trio sleeps with no deadline, a message is handled with no other event."""

    async def main() -> float:
        async with open_runtime() as rt:
            handled = asyncio.Event()
            signal = await rt.spawn(Signal, lambda _: handled.set())
            waits = await _asleep(rt)
            before = waits.timeouts[-1]
            await SENDS[send](signal, Note("wake"))
            # Nothing else happens on the loop: only the send itself can wake Trio.
            await asyncio.wait_for(handled.wait(), timeout=2)
            await rt.run_sync(trio.lowlevel.remove_instrument, waits)
            return before

    assert run(main) >= ASLEEP


def test_a_call_wakes_trio_asleep_until_a_distant_deadline() -> None:
    """With a timer an hour away, Trio sleeps until then; a call from asyncio wakes it now."""

    async def main() -> str:
        async with open_runtime() as rt:
            handled = asyncio.Event()
            signal = await rt.spawn(Signal, lambda _: handled.set())
            sleeper = asyncio.create_task(rt.run(trio.sleep, 2 * ASLEEP))
            waits = Waits()
            await rt.run_sync(trio.lowlevel.add_instrument, waits)
            await until(lambda: bool(waits.timeouts) and ASLEEP < waits.timeouts[-1] < 2 * ASLEEP)
            signal.tell_nowait(Note("wake"))
            await asyncio.wait_for(handled.wait(), timeout=2)
            reply = await rt.run_sync(lambda: "awake")
            await rt.run_sync(trio.lowlevel.remove_instrument, waits)
            sleeper.cancel()
            return reply

    assert run(main) == "awake"


def test_an_idle_runtime_does_not_poll() -> None:
    """After a burst of asks Trio lingers briefly, then sleeps until something happens."""

    async def main() -> list[float]:
        async with open_runtime() as rt:
            account = await rt.spawn(Account, 0)
            for _ in range(100):
                await account.ask(Balance())
            waits = await _asleep(rt)
            seen = len(waits.timeouts)
            await asyncio.sleep(0.05)  # real time: a polling Trio would wait hundreds of times
            idle = waits.timeouts[seen:]
            await rt.run_sync(trio.lowlevel.remove_instrument, waits)
            return idle

    assert run(main) == []


@trouper.message("test.aio.job")
@attrs.frozen
class Job:
    """Work for a durable ``Busy`` actor."""

    tag: str


class Busy(trouper.Actor):
    """A durable actor whose handler holds its transaction open until its gate opens."""

    def __init__(self, gates: Gates) -> None:
        self.gates = gates

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.gates.started.set()
        await self.gates.gate.wait()


def test_sends_from_asyncio_are_not_held_by_a_handlers_transaction(tmp_path: Path) -> None:
    """While a durable handler's transaction is open, asyncio sends to other actors go through."""

    async def main() -> int:
        store = SqliteStore(tmp_path / "s.db", synchronous="normal")
        async with open_runtime(store=store) as rt:
            gates = await Gates.make(rt)
            busy = await rt.spawn(Busy, gates, name="busy", mailbox=Durable())
            account = await rt.spawn(Account, 0)
            await busy.tell(Job("hold"))
            await gates.wait_started(rt)
            account.tell_nowait(Deposit(1))
            await account.tell(Deposit(2))
            balance = await account.ask(Balance())
            await rt.run_sync(gates.gate.set)
            return balance

    assert run(main) == 3


@pytest.mark.parametrize("ending", ["graceful", "abort"])
def test_asks_in_flight_when_the_runtime_ends_raise_actor_stopped(ending: str) -> None:
    """Asks from asyncio, one being handled and one queued, end with ``ActorStopped``, not hang."""
    journal: list[str] = []

    async def main() -> list[BaseException | None]:
        asks: list[asyncio.Task[object]] = []
        entered = asyncio.Event()

        async def owner() -> None:
            async with open_runtime(shutdown=0.01) as rt:
                gates = await Gates.make(rt)
                holder = await rt.spawn(Holder, gates.started, gates.gate, journal)
                asks.append(asyncio.create_task(holder.ask(Hold())))
                asks.append(asyncio.create_task(holder.ask(Note("queued"))))
                await gates.wait_started(rt)
                if ending == "abort":
                    entered.set()
                    await asyncio.Event().wait()

        block = asyncio.create_task(owner())
        if ending == "abort":
            await entered.wait()
            block.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await block
        done, _ = await asyncio.wait(asks, timeout=2)
        assert len(done) == 2
        return [ask.exception() for ask in asks]

    errors = run(main)
    assert [type(error) for error in errors] == [trouper.ActorStopped, trouper.ActorStopped]
    assert journal == ["hold"]
