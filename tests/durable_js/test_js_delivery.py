"""Durable actors on a JetStreamStore: ack, Retry, backoff, dead letters, dedup, state."""

from __future__ import annotations

import attrs
import pytest
import trio
from js_support import Job, eventually, store_for

import trouper
from trouper.durable import (
    DeadLetterRecord,
    Delivery,
    Durable,
    GiveUp,
    JetStreamStore,
    Retry,
    durable_ref,
)
from trouper.errors import StoreError
from trouper.supervision import OneForOne
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Recorder(trouper.Actor):
    """Records ``(n, attempt)`` of each delivery; raises what ``plan`` says for an attempt."""

    def __init__(self, seen: list[tuple[int, int]], plan: dict[int, BaseException] | None = None):
        self.seen = seen
        self.plan = plan or {}

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        self.seen.append((message.n, delivery.attempt))
        error = self.plan.get(delivery.attempt)
        if error is not None:
            raise error


async def wait_for(seen: list[tuple[int, int]], count: int) -> None:
    """Wait (bounded) until ``seen`` has ``count`` entries."""
    await eventually(lambda: len(seen) >= count)


async def test_a_handled_message_is_acked_and_not_delivered_again(
    js_server: NatsServer, prefix: str
) -> None:
    """A message whose handler returned is acknowledged: the next runtime does not see it."""
    seen: list[tuple[int, int]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Recorder, seen, name="jobs", mailbox=Durable())
        await ref.tell(Job(1))
        await wait_for(seen, 1)
        await rt.store.flush()
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Recorder, seen, name="jobs", mailbox=Durable())
        await trio.sleep(0.3)
        (stats,) = await rt.store.mailbox_statistics()
    assert seen == [(1, 1)]
    assert (stats.name, stats.depth, stats.in_flight) == ("jobs", 0, 0)


async def test_tell_returns_once_the_message_is_stored(js_server: NatsServer, prefix: str) -> None:
    """A tell to a mailbox nobody consumes returns once the stream holds the message."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = durable_ref(rt, "later")
        await ref.tell(Job(1))
        await ref.tell(Job(2))
        (stats,) = await rt.store.mailbox_statistics()
    assert (stats.name, stats.depth, stats.ready) == ("later", 2, 2)


async def test_messages_are_delivered_in_the_order_they_were_told(
    js_server: NatsServer, prefix: str
) -> None:
    """One sender's tells are handled in the order it made them."""
    seen: list[tuple[int, int]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Recorder, seen, name="jobs", mailbox=Durable())
        for n in range(50):
            await ref.tell(Job(n))
        await wait_for(seen, 50)
    assert seen == [(n, 1) for n in range(50)]


async def test_retry_redelivers_after_its_delay_and_is_not_a_failure(
    js_server: NatsServer, prefix: str
) -> None:
    """Retry(after) comes back after the delay with the next attempt, even at max_deliveries=1."""
    seen: list[tuple[int, int]] = []
    times: list[float] = []

    class Later(Recorder):
        @trouper.handler
        async def job(self, message: Job) -> None:
            times.append(trio.current_time())
            await super().job(message)

    plan: dict[int, BaseException] = {1: Retry(after=0.5), 2: Retry(after=0.5)}
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Later, seen, plan, name="jobs", mailbox=Durable(max_deliveries=1))
        await ref.tell(Job(7))
        await wait_for(seen, 3)
        dead = [record async for record in rt.store.dead_letters("jobs")]
    assert seen == [(7, 1), (7, 2), (7, 3)]
    assert times[1] - times[0] >= 0.45
    assert times[2] - times[1] >= 0.45
    assert dead == []


async def test_failures_are_retried_after_the_backoff_then_dead_lettered(
    js_server: NatsServer, prefix: str
) -> None:
    """An error nacks with the backoff's delay; at max_deliveries the message is dead-lettered."""
    seen: list[tuple[int, int]] = []
    plan: dict[int, BaseException] = {n: ValueError("empty order") for n in (1, 2, 3)}
    patient = OneForOne(max_restarts=10, within=60)
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store, root_strategy=patient) as rt:
        ref = await rt.spawn(
            Recorder, seen, plan, name="jobs", mailbox=Durable(max_deliveries=3, backoff=(0.1,))
        )
        await ref.tell(Job(3), msg_id="job-3")
        await wait_for(seen, 3)
        dead: list[DeadLetterRecord] = []

        async def buried() -> bool:
            dead[:] = [record async for record in rt.store.dead_letters("jobs")]
            return bool(dead)

        await eventually(buried)
    assert seen == [(3, 1), (3, 2), (3, 3)]
    (record,) = dead
    assert (record.mailbox, record.message, record.msg_id, record.attempts) == (
        "jobs",
        Job(3),
        "job-3",
        3,
    )
    assert record.reason == "ValueError: empty order (max_deliveries 3 reached)"
    assert record.traceback is not None
    assert "ValueError: empty order" in record.traceback


async def test_give_up_dead_letters_at_once_and_the_actor_goes_on(
    js_server: NatsServer, prefix: str
) -> None:
    """GiveUp moves the message to the dead-letter stream at once; the next one is handled."""
    seen: list[tuple[int, int]] = []

    class Picky(Recorder):
        @trouper.handler
        async def job(self, message: Job) -> None:
            await super().job(message)
            if message.n == 1:
                raise GiveUp("no such customer")

    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Picky, seen, name="jobs", mailbox=Durable())
        await ref.tell(Job(1))
        await ref.tell(Job(2))
        await wait_for(seen, 2)
        await rt.store.flush()
        dead = [record async for record in rt.store.dead_letters("jobs")]
    assert seen == [(1, 1), (2, 1)]
    assert [(record.message, record.reason, record.attempts) for record in dead] == [
        (Job(1), "gave up: no such customer", 1)
    ]


async def test_dead_letters_can_be_redriven_and_discarded(
    js_server: NatsServer, prefix: str
) -> None:
    """Redrive gives a dead letter back to its mailbox (attempts from 1); discard deletes it."""
    seen: list[tuple[int, int]] = []
    gave_up = {"yes": True}

    class Moody(Recorder):
        @trouper.handler
        async def job(self, message: Job) -> None:
            await super().job(message)
            if gave_up["yes"]:
                raise GiveUp("not today")

    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Moody, seen, name="jobs", mailbox=Durable())
        await ref.tell(Job(1))
        await ref.tell(Job(2))
        await wait_for(seen, 2)
        await rt.store.flush()
        first, second = [record async for record in rt.store.dead_letters("jobs")]
        gave_up["yes"] = False
        assert await rt.store.redrive("jobs", ids=[first.id]) == 1
        await wait_for(seen, 3)
        assert await rt.store.discard("jobs", ids=[second.id]) == 1
        left = [record async for record in rt.store.dead_letters()]
    assert seen == [(1, 1), (2, 1), (1, 1)]
    assert left == []


@pytest.mark.parametrize("verb", ["redrive", "discard"])
async def test_a_choice_that_is_not_ids_is_refused(
    js_server: NatsServer, prefix: str, verb: str
) -> None:
    """A string of ids or a text id raises ``TypeError`` before the server is asked anything."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        with pytest.raises(TypeError, match=r"not '12'"):
            await getattr(rt.store, verb)("jobs", ids="12")
        with pytest.raises(TypeError, match=r"'x' is not one"):
            await getattr(rt.store, verb)(ids=["x"])
        assert await getattr(rt.store, verb)("jobs", ids=[]) == 0


async def test_a_msg_id_told_again_within_the_window_is_dropped(
    js_server: NatsServer, prefix: str
) -> None:
    """A second tell with the same msg_id within dedup_window is dropped, silently."""
    seen: list[tuple[int, int]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Recorder, seen, name="jobs", mailbox=Durable(dedup_window=60))
        await ref.tell(Job(1), msg_id="o-1")
        await ref.tell(Job(1), msg_id="o-1")
        await ref.tell(Job(2), msg_id="o-2")
        await wait_for(seen, 2)
        await trio.sleep(0.2)
    assert seen == [(1, 1), (2, 1)]


async def test_dedup_window_none_is_refused_clearly(js_server: NatsServer, prefix: str) -> None:
    """JetStream keeps ids for a window: a mailbox asking to keep them for good is refused."""
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        with pytest.raises(ValueError, match=r"give dedup_window in seconds$"):
            await rt.spawn(Recorder, [], name="jobs", mailbox=Durable(dedup_window=None))


@attrs.define
class Tally:
    """A durable state: the jobs applied."""

    applied: list[int] = attrs.Factory(list)


class Counter(trouper.Actor):
    """Adds each job to its durable state; reports the state it started with."""

    state: Tally

    def __init__(self, started: list[list[int]]) -> None:
        self.started = started

    async def on_start(self) -> None:
        self.started.append(list(self.state.applied))

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.state.applied.append(message.n)


async def test_state_is_saved_with_each_ack_and_loaded_by_the_next_runtime(
    js_server: NatsServer, prefix: str
) -> None:
    """Durable state is saved before each ack and loaded (last by subject) before on_start."""
    started: list[list[int]] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Counter, started, name="tally", mailbox=Durable())
        for n in range(3):
            await ref.tell(Job(n))
        await rt.store.flush()

        async def saved() -> bool:
            # Every job acked (each ack follows its state's save), not only the first saved.
            (stats,) = await rt.store.mailbox_statistics()
            return stats.depth == 0 and await rt.store.load_state("tally") is not None

        await eventually(saved)
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        await rt.spawn(Counter, started, name="tally", mailbox=Durable())
    assert started == [[], [0, 1, 2]]


async def test_open_runtime_refuses_a_server_without_jetstream(prefix: str) -> None:
    """A server without JetStream cannot keep durable mailboxes: open_runtime says so."""
    with NatsServer(jetstream=False) as plain, pytest.raises(StoreError, match="no JetStream"):
        async with trouper.open_runtime(store=JetStreamStore(plain.url, prefix=prefix)):
            pass
