"""Review 26: a write on a subject too long for the server is refused, not sent.

``durable_ref`` takes any name an actor could have, and ``save_state`` any
key; both become subjects. A subject past the server's control line (4 KiB
by default) made the server close the connection; the client reconnected and
sent it again, for ever: the whole store stalled (every tell of the runtime
hung). Such a write is now refused with ``StoreRefused`` before it is sent.
"""

from __future__ import annotations

import pytest
import trio
from js_support import Job, JobSink, dead_letters, eventually, store_for

import trouper
from trouper.durable import Delivery, Durable, durable_ref
from trouper.errors import StoreRefused
from trouper.runtime import DeadLetter
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class KeySaver(trouper.Actor):
    """Saves a state under a key longer than any subject the server reads."""

    @trouper.handler
    async def job(self, message: Job) -> None:
        delivery = self.ctx.delivery
        assert isinstance(delivery, Delivery)
        delivery.save_state(b"state", key="k" * 5000)


async def test_a_tell_to_a_mailbox_name_too_long_for_a_stream_is_refused_and_the_store_goes_on(
    js_server: NatsServer, prefix: str
) -> None:
    """``StoreRefused`` (its cause a ValueError saying why) at once; the other actors go on."""
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        sink = await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        with trio.fail_after(5), pytest.raises(StoreRefused) as raised:
            await durable_ref(rt, "é" * 2000).tell(Job(1))
        assert isinstance(raised.value.__cause__, ValueError)
        assert "is too long for a JetStreamStore" in str(raised.value)
        with trio.fail_after(5):
            await sink.tell(Job(2))

        async def handled() -> bool:
            return got == [2]

        await eventually(handled)
        assert not rt.store.statistics().failed


async def test_a_state_key_too_long_for_a_subject_refuses_its_run_and_the_store_goes_on(
    js_server: NatsServer, prefix: str
) -> None:
    """The run's writes are refused, the message is dead-lettered, the other actors go on."""
    got: list[int] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        saver = await rt.spawn(
            KeySaver, name="saver", mailbox=Durable(max_deliveries=2, backoff=(0.05,))
        )
        sink = await rt.spawn(JobSink, got, name="jobs", mailbox=Durable())
        await saver.tell(Job(1))

        async def buried() -> bool:
            return len(await dead_letters(rt, "saver")) == 1

        await eventually(buried)
        (record,) = await dead_letters(rt, "saver")
        assert "the store refused its last run's writes" in record.reason
        assert record.reason.endswith("use a shorter state key")
        with trio.fail_after(5):
            await sink.tell(Job(2))

        async def handled() -> bool:
            return got == [2]

        await eventually(handled)


class Listener(trouper.Actor):
    """Keeps the runtime's dead letters."""

    def __init__(self, heard: list[DeadLetter]) -> None:
        self.heard = heard

    @trouper.handler
    async def letter(self, message: DeadLetter) -> None:
        self.heard.append(message)


async def test_a_tell_nowait_to_a_mailbox_name_too_long_for_a_stream_is_a_dead_letter(
    js_server: NatsServer, prefix: str
) -> None:
    """Posted to the runtime's dead letters, ``not stored: ValueError: ...``."""
    heard: list[DeadLetter] = []
    async with trouper.open_runtime(store=store_for(js_server.url, prefix)) as rt:
        rt.topics.subscribe(await rt.spawn(Listener, heard), "trouper.system.dead_letters")
        durable_ref(rt, "é" * 2000).tell_nowait(Job(1))
        with trio.fail_after(5):
            await rt.store.flush()

        async def posted() -> bool:
            return bool(heard)

        await eventually(posted)
        assert not rt.store.statistics().failed
    (letter,) = heard
    assert letter.message == Job(1)
    assert letter.reason.startswith("not stored: ValueError: the durable mailbox name ")
