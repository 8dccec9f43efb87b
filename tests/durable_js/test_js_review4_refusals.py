"""Review: a refused write raises ``StoreRefused`` (the store goes on), a tell too large at once."""

from __future__ import annotations

import contextlib
import logging

import attrs
import pytest
import trio
from js_support import Done, Job, dead_letters, eventually, store_for

import trouper
from trouper.durable import Durable, GiveUp, durable_ref
from trouper.errors import StoreFailed, StoreRefused
from trouper.nats import DiscardPolicy, RetentionPolicy, StreamConfig
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock

BIG = "x" * 2_000_000
"""Over the test server's ``max_payload`` (1 MiB)."""


class Keeper(trouper.Actor):
    """Keeps what it is told."""

    def __init__(self, got: list[object]) -> None:
        self.got = got

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.got.append(message)

    @trouper.handler
    async def done(self, message: Done) -> None:
        self.got.append(message)


class Refuser(trouper.Actor):
    """Gives every job up at its first run, counting its runs."""

    def __init__(self, runs: list[int]) -> None:
        self.runs = runs

    @trouper.handler
    async def job(self, message: Job) -> None:
        self.runs.append(message.n)
        raise GiveUp(f"job {message.n} is refused")


async def test_a_write_the_server_refuses_raises_store_refused_saying_the_store_goes_on(
    js_server: NatsServer, prefix: str
) -> None:
    """The stream's ``max_msg_size`` refuses a tell: ``StoreRefused``, not "accepts no more writes".

    ``StoreFailed``'s text said the store accepted no more writes, while a
    JetStream store goes on after one refused write.
    """
    store = store_for(js_server.url, prefix)
    async with trouper.open_runtime(store=store) as rt:
        subject = store.subject("jobs")
        await store.client.jetstream().add_stream(
            StreamConfig(
                store.stream_name("jobs"),
                subjects=[subject, subject + ".>"],
                retention=RetentionPolicy.WORK_QUEUE,
                discard=DiscardPolicy.NEW,
                max_msg_size=200,
            )
        )
        ref = durable_ref(rt, "jobs")
        with trio.fail_after(5):
            with pytest.raises(StoreRefused) as caught:
                await ref.tell(Done(1, "x" * 500))
            await ref.tell(Job(1))
        assert not rt.store.statistics().failed
        (stats,) = await rt.store.mailbox_statistics()
    assert stats.depth == 1
    assert isinstance(caught.value, StoreFailed)  # ``except StoreFailed`` still catches it
    assert str(caught.value) == (
        f"store {js_server.url!r} refused a message for the durable mailbox 'jobs': "
        f"{caught.value.__cause__}; nothing of it was stored, and the store goes on"
    )
    assert "message size exceeds maximum allowed" in str(caught.value.__cause__)


async def test_a_too_large_tell_nowait_to_a_hosted_mailbox_raises_at_once(
    js_server: NatsServer, prefix: str
) -> None:
    """Over ``max_payload``: ``tell_nowait`` raises ``StoreRefused`` itself, nothing is stored.

    It was staged in the mailbox's batch, refused at the commit with only a
    log line: the caller never learned its message was lost.
    """
    got: list[object] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        with pytest.raises(
            StoreRefused,
            match=r"refused a message for the durable mailbox 'jobs': a message of \d+ bytes "
            r"with its headers is too large for a durable mailbox: at most \d+ bytes with its "
            r"headers \(the server's max_payload of \d+ less 1024 kept for its dead letter\); "
            r"nothing of it was stored, and the store goes on$",
        ):
            ref.tell_nowait(Done(1, BIG))
        await ref.tell(Job(2))
        await eventually(lambda: got)
        await rt.store.flush()
        assert not rt.store.statistics().failed
    assert got == [Job(2)]


async def test_an_awaited_tell_staged_in_the_same_pass_as_a_too_large_tell_nowait_is_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """The mailbox's batch held both: the whole batch was refused for the other message's size.

    The awaited tell raised ``StoreFailed`` about a message that was not its
    own, and its own message was not stored.
    """
    got: list[object] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        with contextlib.suppress(StoreRefused):
            ref.tell_nowait(Done(1, BIG))
        with trio.fail_after(5):
            await ref.tell(Job(2))  # staged in the same pass: no checkpoint in between
            await eventually(lambda: got)
    assert got == [Job(2)]


async def test_a_tell_nowait_staged_in_the_same_pass_as_a_too_large_tell_is_stored(
    js_server: NatsServer, prefix: str
) -> None:
    """The too large awaited tell raises for itself; the ``tell_nowait`` before it is stored.

    The batch they shared was refused whole, so the ``tell_nowait``'s
    message was lost with only a log line.
    """
    got: list[object] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        ref = await rt.spawn(Keeper, got, name="jobs", mailbox=Durable())
        ref.tell_nowait(Job(1))
        with pytest.raises(StoreRefused):
            await ref.tell(Done(2, BIG))
        await eventually(lambda: got)
        await rt.store.flush()
    assert got == [Job(1)]


async def test_a_dead_letter_refused_for_room_is_logged_and_stored_once_room_is_made(
    js_server: NatsServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator's ``discard: new`` limit on the dead-letter stream: the refusal is an error.

    A dead letter refused for room was sent again every second, for ever,
    without a word, its message held meanwhile; it is refused as any other
    write (logged), its message released and dead-lettered again later.
    """
    runs: list[int] = []
    store = store_for(js_server.url, prefix, ack_wait=1.0)
    async with trouper.open_runtime(store=store) as rt:
        js = store.client.jetstream()
        dead = (await js.stream_info(f"{prefix}_dead")).config
        await js.update_stream(attrs.evolve(dead, max_msgs=1, discard=DiscardPolicy.NEW))
        options = Durable(prefetch=1, backoff=(0.05,), max_deliveries=10)
        await rt.spawn(Refuser, runs, name="jobs", mailbox=options)
        ref = durable_ref(rt, "jobs")
        await ref.tell(Job(1))
        await eventually(lambda: dead_letters(rt, "jobs"))
        await ref.tell(Job(2))
        await eventually(
            lambda: any(
                "maximum messages exceeded" in record.getMessage()
                for record in caplog.records
                if record.levelno == logging.ERROR and record.name == "trouper"
            )
        )
        await js.update_stream(dead)  # room again

        async def both_buried() -> bool:
            return len(await dead_letters(rt, "jobs")) == 2

        await eventually(both_buried)
    assert runs == [1, 2]
