"""Review: on JetStream, a run whose writes the server refused leaves no state behind in memory.

A handled message's state is published before its ack; when the server
refuses that batch (a state over its ``max_payload``, say), the message is
delivered again, but the actor kept the refused state in memory as if it
had been saved: the rerun started from its own effect, and every later
message built on a state the server never stored; a state too large for
the server refused every later run too, so each later message was
dead-lettered in turn.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import attrs
import pytest
import trio

import trouper
from trouper.durable import DeadLetterRecord, Delivery, Durable, JetStreamStore
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock  # the server is another process


@trouper.message("test.durable.r16js.add")
@attrs.frozen
class Add:
    """Add ``n`` to the total; with ``blob``, also keep that many bytes in the state."""

    n: int
    blob: int = 0


@trouper.message("test.durable.r16js.peek")
@attrs.frozen
class Peek:
    """Ask for the total and the count of starts."""


@attrs.define
class Total:
    """Durable state: a running total, and a blob that can make it too large to store."""

    total: int = 0
    blob: str = ""
    starts: int = 0


class Adder(trouper.Actor):
    """Adds each ``Add`` to its state; records the state each run starts from."""

    state: Total

    def __init__(self, starts: list[tuple[int, int, int, int]]) -> None:
        self.starts = starts

    @trouper.handler
    async def add(self, message: Add) -> int:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.starts.append((message.n, delivery.attempt, self.state.total, len(self.state.blob)))
        self.state.total += message.n
        if message.blob:
            self.state.blob = "x" * message.blob
        return self.state.total

    @trouper.handler
    async def peek(self, message: Peek) -> tuple[int, int]:
        return self.state.total, self.state.starts


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One JetStream server for the module (its ``max_payload``: 1 MiB)."""
    with NatsServer() as server:
        yield server


def store(server: NatsServer, prefix: str) -> JetStreamStore:
    """A store on ``server`` under ``prefix`` with short polls."""
    return JetStreamStore(server.url, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5)


async def dead_letters(rt: trouper.Runtime) -> list[DeadLetterRecord]:
    """The dead letters of the adder."""
    return [record async for record in rt.store.dead_letters("adder")]


async def test_a_refused_state_is_rolled_back_before_the_next_run(server: NatsServer) -> None:
    """The rerun starts from the saved state; later messages are stored, not refused in turn."""
    starts: list[tuple[int, int, int, int]] = []
    options = Durable(max_deliveries=2, backoff=(0.1,))
    async with trouper.open_runtime(store=store(server, "r16r")) as rt:
        adder = await rt.spawn(Adder, starts, name="adder", mailbox=options)
        assert await adder.ask(Add(1)) == 1
        await adder.tell(Add(10, blob=2_000_000))  # its state is over max_payload
        with trio.fail_after(10):
            for _ in itertools.count():  # the server delivers in its own time
                if await dead_letters(rt):
                    break
                await trio.sleep(0.01)
        with trio.fail_after(10):
            assert await adder.ask(Add(100)) == 101
            assert await adder.ask(Add(1000)) == 1101
        await rt.store.flush()
        (dead,) = await dead_letters(rt)
    assert starts == [(1, 1, 0, 0), (10, 1, 1, 0), (10, 2, 1, 0), (100, 1, 1, 0), (1000, 1, 101, 0)]
    assert "max_payload" in dead.reason
    async with trouper.open_runtime(store=store(server, "r16r")) as rt:
        adder = await rt.spawn(Adder, starts, name="adder", mailbox=options)
        with trio.fail_after(10):
            assert await adder.ask(Add(0)) == 1101  # what was stored


class CountingAdder(Adder):
    """An ``Adder`` whose ``on_start`` counts its starts in the state (saved with the next ack)."""

    async def on_start(self) -> None:
        self.state.starts += 1


async def test_a_refused_run_keeps_what_on_start_changed(server: NatsServer) -> None:
    """The rollback goes to the state as ``on_start`` left it: the next ack saves that change."""
    options = Durable(max_deliveries=1, backoff=(0.1,))
    async with trouper.open_runtime(store=store(server, "r16o")) as rt:
        adder = await rt.spawn(CountingAdder, [], name="adder", mailbox=options)
        await adder.tell(Add(10, blob=2_000_000))  # the first ack, with on_start's change: refused
        with trio.fail_after(10):
            for _ in itertools.count():  # the server delivers in its own time
                if await dead_letters(rt):
                    break
                await trio.sleep(0.01)
            assert await adder.ask(Add(1)) == 1
    async with trouper.open_runtime(store=store(server, "r16o")) as rt:
        adder = await rt.spawn(Adder, [], name="adder", mailbox=options)
        with trio.fail_after(10):
            assert await adder.ask(Peek()) == (1, 1)  # on_start's count was saved
