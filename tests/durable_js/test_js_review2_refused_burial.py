"""Review: a dead letter the server refuses leaves its message to be dead-lettered again later."""

from __future__ import annotations

import attrs
import pytest
from js_support import Job, dead_letters, eventually, store_for

import trouper
from trouper.durable import Durable, durable_ref
from trouper.testing import NatsServer

pytestmark = pytest.mark.real_clock


class Poison(trouper.Actor):
    """Every job raises."""

    @trouper.handler
    async def job(self, message: Job) -> None:
        raise ValueError("poison")


async def test_a_message_whose_dead_letter_was_refused_is_dead_lettered_once_there_is_room(
    js_server: NatsServer, prefix: str
) -> None:
    """The dead-letter stream refused the dead letter; once it takes it again, the message moves.

    The message stayed held by its host (kept from redelivery by ``+WPI``)
    with neither an ack nor a term: it never reached the dead-letter queue,
    and never ran again, for as long as the process lived.
    """
    store = store_for(js_server.url, prefix, ack_wait=1.0)
    async with trouper.open_runtime(store=store) as rt:
        js = store.client.jetstream()
        dead = (await js.stream_info(f"{prefix}_dead")).config
        await js.update_stream(attrs.evolve(dead, max_msg_size=64))  # no dead letter fits
        options = Durable(prefetch=1, backoff=(0.05,), max_deliveries=1)
        await rt.spawn(Poison, name="jobs", mailbox=options)
        await durable_ref(rt, "jobs").tell(Job(1))
        await eventually(lambda: store.statistics().batches >= 3)  # the tell, the run, the burial
        await rt.store.flush()
        await js.update_stream(dead)  # room again
        await eventually(lambda: dead_letters(rt, "jobs"), 10)
        (record,) = await dead_letters(rt, "jobs")
    assert record.message == Job(1)
    assert record.reason == "ValueError: poison (max_deliveries 1 reached)"
