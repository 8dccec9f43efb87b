"""Review 24: on JetStream, a refused run's effect never reaches the store in a newer state.

A handled message's state was published with its batch at once, and the
state of the next message (made from it in memory) with the next batch. When
the server refused the first batch after the second had staged its state
(a send of the first waited for room, then was refused), the second state
was stored all the same: it held the refused run's effect, and that run,
delivered again, applied it a second time (Add(1), Add(10) after 100: 112 stored,
not 111). The state of the refused run itself was stored too, beside the refusal
of its send.
"""

from __future__ import annotations

import attrs
import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, JetStreamStore, durable_ref
from trouper.nats import JetStream, StreamConfig
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock  # the server is another process


@trouper.message("test.durable.r24js.add")
@attrs.frozen
class Add:
    """Add ``n`` to the total; with ``send``, also tell ``Job(n)`` to the target (first run)."""

    n: int
    send: bool = False


@trouper.message("test.durable.r24js.peek")
@attrs.frozen
class Peek:
    """Ask for the total."""


@attrs.define
class Total:
    """Durable state: a running total."""

    total: int = 0


class Adder(trouper.Actor):
    """Adds each ``Add`` to its state; records each run: (n, attempt, total it starts from)."""

    state: Total

    def __init__(self, runs: list[tuple[int, int, int]]) -> None:
        self.runs = runs

    def record_run(self, n: int) -> Delivery:
        """Record this run of adding ``n``, then add it; return its delivery."""
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.runs.append((n, delivery.attempt, self.state.total))
        self.state.total += n
        return delivery

    @trouper.handler
    async def add(self, message: Add) -> int:
        delivery = self.record_run(message.n)
        if message.send and delivery.attempt == 1:
            await durable_ref(self.ctx.runtime, "target").tell(Job(message.n))
        return self.state.total

    @trouper.handler
    async def peek(self, message: Peek) -> int:
        return self.state.total


async def fill_the_target(
    rt: trouper.Runtime, store: JetStreamStore
) -> tuple[JetStream, StreamConfig]:
    """Make the target's stream and limit it to the one message it holds: the target is full.

    Returns the JetStream context and the stream's config before the limit.
    """
    await durable_ref(rt, "target").tell(Job(0))  # makes the target's stream
    js = store.client.jetstream()
    config = (await js.stream_info(store.stream_name("target"))).config
    await js.update_stream(attrs.evolve(config, max_msgs=1))  # an operator's limit
    return js, config


async def settle(rt: trouper.Runtime, runs: list[tuple[int, int, int]]) -> None:
    """Wait until the adder's mailbox is empty and four runs were made, then flush the store."""

    async def settled() -> bool:
        (stats,) = [s for s in await rt.store.mailbox_statistics() if s.name == "adder"]
        return stats.depth == 0 and len(runs) >= 4

    await eventually(settled)
    await rt.store.flush()


async def stored_total(js_server: NatsServer, prefix: str, options: Durable) -> object:
    """The total a new runtime on the same streams reads back: what was stored."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        adder = await rt.spawn(Adder, [], name="adder", mailbox=options)
        return await adder.ask(Peek())


async def test_a_state_made_from_a_refused_run_is_not_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """Add(1) refused after Add(10) staged 111: both run again from 100; 111 is stored."""
    runs: list[tuple[int, int, int]] = []
    options = Durable(max_deliveries=5, backoff=(0.1,))
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        js, config = await fill_the_target(rt, store)
        adder = await rt.spawn(Adder, runs, name="adder", mailbox=options)
        assert await adder.ask(Add(100)) == 100  # a state stored
        await adder.tell(Add(1, send=True))  # its send waits for room in the target
        await eventually(lambda: len(runs) == 2)
        assert await adder.ask(Add(10)) == 111  # its state is made from Add(1)'s
        # Add(1)'s send is refused for good at its next try: its batch is refused.
        await js.update_stream(attrs.evolve(config, max_msgs=-1, max_msg_size=1))
        await settle(rt, runs)
        assert await adder.ask(Peek()) == 111
    assert runs[:3] == [(100, 1, 0), (1, 1, 100), (10, 1, 101)]
    # Each ran again from a state without the refused Add(1), in whichever order they came;
    # Add(10) is not charged a delivery for Add(1)'s refusal.
    assert set(runs[3:]) in ({(1, 2, 100), (10, 1, 101)}, {(10, 1, 100), (1, 2, 110)})
    assert await stored_total(js_server, prefix, options) == 111  # each Add once


@trouper.message("test.durable.r24js.add-held")
@attrs.frozen
class AddHeld:
    """Add ``n`` to the total, then wait for the actor's gate (first run only) before returning."""

    n: int


class HeldAdder(Adder):
    """An ``Adder`` whose ``AddHeld`` runs wait for a gate the test opens."""

    def __init__(self, runs: list[tuple[int, int, int]], gate: trio.Event) -> None:
        super().__init__(runs)
        self.gate = gate

    @trouper.handler
    async def add_held(self, message: AddHeld) -> int:
        if self.record_run(message.n).attempt == 1:
            await self.gate.wait()
        return self.state.total


async def test_a_run_going_on_when_an_older_run_is_refused_saves_no_state(
    js_server: NatsServer, prefix: str
) -> None:
    """A run that began from the refused run's state and ends after the refusal runs again.

    Add(1) is refused while AddHeld(10), begun from its state (101), waits:
    that run's state (111) was saved when it ended, and Add(1) ran again on
    it (112 stored).
    """
    runs: list[tuple[int, int, int]] = []
    gate = trio.Event()
    options = Durable(max_deliveries=5, backoff=(0.1,))
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        js, config = await fill_the_target(rt, store)
        adder = await rt.spawn(HeldAdder, runs, gate, name="adder", mailbox=options)
        assert await adder.ask(Add(100)) == 100  # a state stored
        await adder.tell(Add(1, send=True))  # its send waits for room in the target
        await adder.tell(AddHeld(10))
        await eventually(lambda: len(runs) == 3)  # AddHeld(10) waits, from 101
        await js.update_stream(attrs.evolve(config, max_msgs=-1, max_msg_size=1))
        await rt.store.flush()  # Add(1)'s batch is refused (its send's next try)
        gate.set()
        await settle(rt, runs)
        assert await adder.ask(Peek()) == 111
    assert runs[:3] == [(100, 1, 0), (1, 1, 100), (10, 1, 101)]
    assert set(runs[3:]) in ({(1, 2, 100), (10, 1, 101)}, {(10, 1, 100), (1, 2, 110)})
    assert await stored_total(js_server, prefix, options) == 111  # each Add once
