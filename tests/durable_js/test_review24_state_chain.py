"""Review 24: on JetStream, a state is sent once the older states of its actor are stored.

A state holds what every older run of its actor did. It was published as
soon as its batch was taken, while an older state was still unanswered:
when the server then refused the older one, the newer was stored all the
same, with the refused run's effect inside (that run, delivered again,
applied it twice). An impostor answers the state publishes here, so that
what is sent, and when, is seen exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from trouper.durable import JetStreamStore, WriteBatch
from trouper.errors import StoreFailed, StoreRefused
from trouper.nats import Client, Msg, StreamConfig, Subscription, connect
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

BUSY = b'{"error":{"code":503,"err_code":10039,"description":"jetstream not ready"}}'
REFUSED = (
    b'{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}'
)


def stored(prefix: str, seq: int) -> bytes:
    """The server's answer: stored at ``seq`` in the state stream."""
    return b'{"stream":"%s_state","seq":%d}' % (prefix.encode(), seq)


def state(data: bytes, outcomes: list[tuple[bytes, BaseException | None]]) -> WriteBatch:
    """A batch saving the state ``k``; its outcome is added to ``outcomes`` (None: committed)."""
    batch = WriteBatch()
    batch.save_state("k", data)
    batch.after_commit(lambda: outcomes.append((data, None)))
    batch.after_failure(lambda error: outcomes.append((data, error)))
    return batch


async def next_state(sub: Subscription) -> Msg:
    """The next state publish the impostor sees (bounded)."""
    with trio.fail_after(10):
        return await sub.next_msg()


@asynccontextmanager
async def store_without_state_stream(
    js_server: NatsServer, prefix: str
) -> AsyncIterator[tuple[Client, JetStreamStore]]:
    """An open store (and its client) whose state stream is deleted: no server answers there."""
    async with connect(js_server.url) as client:
        store = JetStreamStore(
            client=client, prefix=prefix, ack_wait=2.0, poll_expires=2.0, heartbeat=0.5
        )
        async with store:
            await client.jetstream().delete_stream(f"{prefix}_state")
            yield client, store


@asynccontextmanager
async def state_impostor(js_server: NatsServer, prefix: str) -> AsyncIterator[Subscription]:
    """The impostor's subscription to the state publishes: it answers them for the server."""
    async with connect(js_server.url) as impostor:
        sub = await impostor.subscribe(f"{prefix}.state.>")
        await impostor.flush()
        yield sub


async def test_a_state_staged_behind_a_refused_one_is_refused_unsent(
    js_server: NatsServer, prefix: str
) -> None:
    """s1 refused: s2 and s3, staged while s1 was in flight, are never sent; refused with it."""
    outcomes: list[tuple[bytes, BaseException | None]] = []
    async with (
        store_without_state_stream(js_server, prefix) as (_, store),
        state_impostor(js_server, prefix) as sub,
    ):
        store.stage(state(b"1", outcomes))
        s1 = await next_state(sub)
        store.stage(state(b"2", outcomes))
        await trio.testing.wait_all_tasks_blocked()  # s2 and s3: batches of their own
        third = state(b"3", outcomes)
        heard = trio.Event()
        third.after_failure(lambda _: heard.set())
        store.stage(third)
        await s1.respond(REFUSED)
        with trio.fail_after(10):
            await heard.wait()  # the refusal crosses the network
        store.stage(state(b"4", outcomes))  # made after the refusal was heard
        s4 = await next_state(sub)
        assert (s1.data, s4.data) == (b"1", b"4")  # s2 and s3 were never sent
        await s4.respond(stored(prefix, 1))
        with trio.fail_after(10):
            await store.flush()
    assert [data for data, _ in outcomes] == [b"1", b"2", b"3", b"4"]
    (_, first), *newer, (_, last) = outcomes
    assert isinstance(first, StoreRefused)
    assert "message size exceeds maximum allowed" in str(first)
    for _, error in newer:
        assert isinstance(error, StoreRefused)
        assert "it was made from an older state of its actor, not stored" in str(error)
    assert last is None


async def test_states_staged_while_one_is_in_flight_go_as_the_newest_once_it_is_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """s1 busy, sent again and stored: then s3 alone is sent, and s2's batch commits with it."""
    outcomes: list[tuple[bytes, BaseException | None]] = []
    async with (
        store_without_state_stream(js_server, prefix) as (_, store),
        state_impostor(js_server, prefix) as sub,
    ):
        store.stage(state(b"1", outcomes))
        s1 = await next_state(sub)
        store.stage(state(b"2", outcomes))
        store.stage(state(b"3", outcomes))
        await s1.respond(BUSY)
        s1_again = await next_state(sub)
        await s1_again.respond(stored(prefix, 1))
        s3 = await next_state(sub)
        assert (s1.data, s1_again.data, s3.data) == (b"1", b"1", b"3")
        await s3.respond(stored(prefix, 2))
        with trio.fail_after(10):
            await store.flush()
    assert outcomes == [(b"1", None), (b"2", None), (b"3", None)]


async def test_a_batch_refused_behind_an_older_state_fails_after_that_one_ended(
    js_server: NatsServer, prefix: str
) -> None:
    """Its refusal is heard once the older batch committed: refusals come in staging order.

    The mailbox that sets its actor's state back reads a refusal heard while
    an older state is on its way as if that one were newer (it would decide):
    the refused run's state stayed in memory and was saved with the next run.
    """
    outcomes: list[tuple[bytes, BaseException | None]] = []
    async with store_without_state_stream(js_server, prefix) as (client, store):
        box = f"{prefix}.mailbox.box"
        await client.jetstream().add_stream(
            StreamConfig(store.stream_name("box"), subjects=[box, f"{box}.>"], max_msg_size=8)
        )
        async with state_impostor(js_server, prefix) as sub:
            store.stage(state(b"1", outcomes))
            s1 = await next_state(sub)
            second = state(b"2", outcomes)
            second.append("box", "t", b"more than eight bytes")  # refused by the server
            heard = trio.Event()
            second.after_failure(lambda _: heard.set())
            store.stage(second)
            await trio.testing.wait_all_tasks_blocked()  # its publishes are out
            await client.flush()  # and the server's refusal of the append is read
            await s1.respond(stored(prefix, 1))
            with trio.fail_after(10):
                await heard.wait()
                await store.flush()
    assert [(data, error is None) for data, error in outcomes] == [(b"1", True), (b"2", False)]
    assert "message size exceeds maximum allowed" in str(outcomes[1][1])


async def test_states_waiting_when_the_store_closes_fail_with_its_closing(
    js_server: NatsServer, prefix: str
) -> None:
    """s1 unanswered, s2 behind it: both batches fail with "the store was closed"."""
    outcomes: list[tuple[bytes, BaseException | None]] = []
    async with (
        store_without_state_stream(js_server, prefix) as (_, store),
        state_impostor(js_server, prefix) as sub,
    ):
        store.stage(state(b"1", outcomes))
        await next_state(sub)  # never answered: the close waits 5 s for it
        store.stage(state(b"2", outcomes))
        await trio.testing.wait_all_tasks_blocked()
    assert [data for data, _ in outcomes] == [b"1", b"2"]
    for _, error in outcomes:
        assert isinstance(error, StoreFailed)
        assert not isinstance(error, StoreRefused)
        assert "the store was closed" in str(error)
